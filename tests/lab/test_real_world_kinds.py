"""A representative set of real-world kinds, written as their upstream documentation writes them, syncs
from nothing in one pass; afterwards drift is 0, `fleet plan` is empty and a second sync writes nothing.

Cluster-scoped objects carry the test's namespace in their names, so runs never collide.
"""

from __future__ import annotations

from fleet.model.changeset import Action
from fleet.model.cluster import Selection
from fleet.workflows.status import fleet_report
from tests.support.labrepo import FleetRepo

N = "{{ values.namespace }}"

PREREQUISITES = f"""\
apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata:
  name: high-{N}
value: 1000000
globalDefault: false
description: "For the test's pods only."
---
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: local-{N}
provisioner: kubernetes.io/no-provisioner
volumeBindingMode: WaitForFirstConsumer
---
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: manual-{N}
provisioner: kubernetes.io/no-provisioner
volumeBindingMode: Immediate
---
apiVersion: v1
kind: PersistentVolume
metadata:
  name: pv-{N}
spec:
  capacity:
    storage: 1Gi
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Retain
  storageClassName: manual-{N}
  hostPath:
    path: /tmp/data-{N}
---
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata:
  name: nginx-{N}
spec:
  controller: example.com/ingress-controller
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: reader-{N}
rules:
  - apiGroups: [""]
    resources: ["pods"]
    verbs: ["get", "watch", "list"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: read-pods-{N}
subjects:
  - kind: ServiceAccount
    name: app
    namespace: {N}
roleRef:
  kind: ClusterRole
  name: reader-{N}
  apiGroup: rbac.authorization.k8s.io
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: crontabs.{N}.example.com
spec:
  group: {N}.example.com
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec:
              type: object
              properties:
                cronSpec: {{type: string}}
                image: {{type: string}}
                replicas: {{type: integer, default: 1}}
  scope: Namespaced
  names:
    plural: crontabs
    singular: crontab
    kind: CronTab
    shortNames: [ct]
"""

NAMESPACED = f"""\
apiVersion: v1
kind: ResourceQuota
metadata:
  name: object-counts
spec:
  hard:
    configmaps: "50"
    pods: "50"
    services.loadbalancers: "2"
---
apiVersion: v1
kind: LimitRange
metadata:
  name: cpu-limit-range
spec:
  limits:
    - type: PersistentVolumeClaim
      max:
        storage: 2Gi
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: default-deny-ingress
spec:
  podSelector: {{}}
  policyTypes: [Ingress]
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: app
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: pod-reader
rules:
  - apiGroups: [""]
    resources: ["pods"]
    verbs: ["get", "watch", "list"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: read-pods
subjects:
  - kind: ServiceAccount
    name: app
roleRef:
  kind: Role
  name: pod-reader
  apiGroup: rbac.authorization.k8s.io
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: frozen
data:
  mode: production
immutable: true
---
apiVersion: v1
kind: Secret
metadata:
  name: with-data
type: Opaque
data:
  username: YWRtaW4=
---
apiVersion: v1
kind: Secret
metadata:
  name: with-string-data
type: Opaque
stringData:
  config.yaml: |
    apiUrl: "https://my.api.com/api/v1"
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: bound
spec:
  storageClassName: manual-{N}
  accessModes: [ReadWriteOnce]
  resources:
    requests:
      storage: 1Gi
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: waits-for-a-consumer
spec:
  storageClassName: local-{N}
  accessModes: [ReadWriteOnce]
  resources:
    requests:
      storage: 1Gi
---
apiVersion: v1
kind: Service
metadata:
  name: cluster-ip
spec:
  selector: {{app: web}}
  ports:
    - protocol: TCP
      port: 80
      targetPort: 9376
---
apiVersion: v1
kind: Service
metadata:
  name: headless
spec:
  clusterIP: None
  selector: {{app: db}}
  ports:
    - port: 5432
---
apiVersion: v1
kind: Service
metadata:
  name: node-port
spec:
  type: NodePort
  selector: {{app: web}}
  ports:
    - port: 80
      targetPort: 80
---
apiVersion: v1
kind: Service
metadata:
  name: load-balancer
spec:
  type: LoadBalancer
  selector: {{app: web}}
  ports:
    - protocol: TCP
      port: 80
      targetPort: 9376
---
apiVersion: v1
kind: Service
metadata:
  name: dual-stack
spec:
  ipFamilyPolicy: PreferDualStack
  selector: {{app: web}}
  ports:
    - port: 80
---
apiVersion: v1
kind: Service
metadata:
  name: external
spec:
  type: ExternalName
  externalName: my.database.example.com
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: autoscaled
spec:
  selector:
    matchLabels: {{app: autoscaled}}
  template:
    metadata:
      labels: {{app: autoscaled}}
    spec:
      containers:
        - name: php-apache
          image: registry.k8s.io/hpa-example
          ports:
            - containerPort: 80
          resources:
            limits: {{cpu: 500m}}
            requests: {{cpu: 200m}}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: autoscaled
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: autoscaled
  minReplicas: 2
  maxReplicas: 4
  metrics:
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: 50
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: min-available
spec:
  minAvailable: 1
  selector:
    matchLabels: {{app: autoscaled}}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: max-unavailable-zero
spec:
  maxUnavailable: 0
  selector:
    matchLabels: {{app: autoscaled}}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: selects-nothing
spec:
  minAvailable: 1
  selector:
    matchLabels: {{app: nothing-has-this-label}}
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: web
spec:
  selector:
    matchLabels: {{app: nginx}}
  serviceName: headless
  replicas: 2
  minReadySeconds: 1
  template:
    metadata:
      labels: {{app: nginx}}
    spec:
      terminationGracePeriodSeconds: 10
      containers:
        - name: nginx
          image: registry.k8s.io/nginx-slim:0.24
          ports:
            - containerPort: 80
              name: web
---
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: fluentd-elasticsearch
  labels:
    k8s-app: fluentd-logging
spec:
  selector:
    matchLabels:
      name: fluentd-elasticsearch
  template:
    metadata:
      labels:
        name: fluentd-elasticsearch
    spec:
      tolerations:
        - key: node-role.kubernetes.io/control-plane
          operator: Exists
          effect: NoSchedule
      containers:
        - name: fluentd-elasticsearch
          image: quay.io/fluentd_elasticsearch/fluentd:v5.0.1
          resources:
            limits: {{memory: 200Mi}}
            requests: {{cpu: 100m, memory: 200Mi}}
      terminationGracePeriodSeconds: 30
---
apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: frontend
  labels:
    app: guestbook
    tier: frontend
spec:
  replicas: 2
  selector:
    matchLabels:
      tier: frontend
  template:
    metadata:
      labels:
        tier: frontend
    spec:
      containers:
        - name: php-redis
          image: us-docker.pkg.dev/google-samples/containers/gke/gb-frontend:v5
---
apiVersion: batch/v1
kind: Job
metadata:
  name: pi
spec:
  template:
    spec:
      containers:
        - name: pi
          image: perl:5.34.0
          command: ["perl", "-Mbignum=bpi", "-wle", "print bpi(2000)"]
      restartPolicy: Never
  backoffLimit: 4
---
apiVersion: batch/v1
kind: CronJob
metadata:
  name: hello
spec:
  schedule: "* * * * *"
  jobTemplate:
    spec:
      template:
        spec:
          containers:
            - name: hello
              image: busybox:1.28
              imagePullPolicy: IfNotPresent
              command: [/bin/sh, -c, date; echo Hello from the Kubernetes cluster]
          restartPolicy: OnFailure
---
apiVersion: v1
kind: Pod
metadata:
  name: important
spec:
  priorityClassName: high-{N}
  containers:
    - name: nginx
      image: nginx
      imagePullPolicy: IfNotPresent
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: minimal-ingress
spec:
  ingressClassName: nginx-{N}
  rules:
    - http:
        paths:
          - path: /testpath
            pathType: Prefix
            backend:
              service:
                name: cluster-ip
                port:
                  number: 80
---
apiVersion: {N}.example.com/v1
kind: CronTab
metadata:
  name: my-new-cron-object
spec:
  cronSpec: "* * * * */5"
  image: my-awesome-cron-image
"""


async def test_real_world_kinds_sync_in_one_pass_with_zero_drift(dev_only: FleetRepo) -> None:
    fleet = dev_only
    fleet.commit({"overlays/base/10-prerequisites.yaml": PREREQUISITES, "overlays/base/20-kinds.yaml": NAMESPACED})

    first = (await fleet.sync())["dev-1"]
    failed = [(str(c.key), c.message) for c in first.changes if c.action is Action.FAILED]
    assert not failed and first.error is None, failed or first.error
    kinds = {c.key.kind for c in first.changes}
    assert {
        "PriorityClass",
        "StorageClass",
        "PersistentVolume",
        "IngressClass",
        "CronTab",
        "HorizontalPodAutoscaler",
    } <= kinds

    workspace = fleet.workspace()
    rendered = [workspace.render(c) for c in workspace.select(Selection())]
    report = await fleet_report(rendered, fleet.config, inventory_name=fleet.inventory)
    drift = [i.to_dict() for i in report.clusters[0].drift]
    assert drift == [], drift
    # Strict mode counts labels and annotations others added: the objects' own controllers (the volume
    # binder's pv.kubernetes.io/*, the DaemonSet controller's template generation) never count.
    strict = await fleet_report(rendered, fleet.config, inventory_name=fleet.inventory, strict=True)
    strict_drift = [i.to_dict() for i in strict.clusters[0].drift]
    assert strict_drift == [], str(strict_drift)

    plan = (await fleet.sync(dry_run=True))["dev-1"]
    planned = [(c.action.value, str(c.key), c.message) for c in plan.changes if c.action is not Action.UNCHANGED]
    assert planned == [], planned

    second = (await fleet.sync())["dev-1"]
    assert second.writes == 0 and not second.failed, [(c.action, str(c.key)) for c in second.changes]

    # Everything leaves Git: prune takes every kind away again, in reverse order (and stops the CronJob
    # and the DaemonSet from loading the shared lab for the tests after this one).
    fleet.commit({"overlays/base/10-prerequisites.yaml": None, "overlays/base/20-kinds.yaml": None})
    pruned = (await fleet.sync(force_prune=True))["dev-1"]
    left = [
        (c.action.value, str(c.key), c.message)
        for c in pruned.changes
        if c.action not in (Action.DELETED, Action.UNCHANGED)
    ]
    assert left == [] and pruned.matches_git, left
