"""A small service chart written for fleet's tests (Deployment, Service, ConfigMap, an optional HPA, a CRD
in crds/ and a test hook), and a kustomize base with an env overlay, as repository files."""

from __future__ import annotations

CHART = "overlays/base/charts/shop-api"

CHART_FILES: dict[str, str] = {
    f"{CHART}/Chart.yaml": """\
apiVersion: v2
name: shop-api
description: The shop's API, a chart written for fleet's tests.
type: application
version: 0.3.0
appVersion: "1.0"
""",
    f"{CHART}/values.yaml": """\
replicaCount: 1
image:
  repository: registry.example/shop-api
  tag: "1.0"
greeting: hello
autoscaling:
  enabled: false
  maxReplicas: 4
""",
    f"{CHART}/crds/widgets.yaml": """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: shopwidgets.shop.example.com
spec:
  group: shop.example.com
  scope: Namespaced
  names: {plural: shopwidgets, singular: shopwidget, kind: ShopWidget}
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          x-kubernetes-preserve-unknown-fields: true
""",
    f"{CHART}/templates/_helpers.tpl": """\
{{- define "shop-api.labels" -}}
app.kubernetes.io/name: shop-api
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}
""",
    f"{CHART}/templates/configmap.yaml": """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-config
  labels: {{- include "shop-api.labels" . | nindent 4 }}
data:
  greeting: {{ .Values.greeting | quote }}
""",
    f"{CHART}/templates/deployment.yaml": """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
  labels: {{- include "shop-api.labels" . | nindent 4 }}
spec:
  {{- if not .Values.autoscaling.enabled }}
  replicas: {{ .Values.replicaCount }}
  {{- end }}
  selector:
    matchLabels: {{- include "shop-api.labels" . | nindent 6 }}
  template:
    metadata:
      labels: {{- include "shop-api.labels" . | nindent 8 }}
    spec:
      containers:
        - name: api
          image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"
          ports:
            - containerPort: 8080
          envFrom:
            - configMapRef:
                name: {{ .Release.Name }}-config
""",
    f"{CHART}/templates/service.yaml": """\
apiVersion: v1
kind: Service
metadata:
  name: {{ .Release.Name }}
  labels: {{- include "shop-api.labels" . | nindent 4 }}
spec:
  selector: {{- include "shop-api.labels" . | nindent 4 }}
  ports:
    - port: 80
      targetPort: 8080
""",
    f"{CHART}/templates/hpa.yaml": """\
{{- if .Values.autoscaling.enabled }}
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {{ .Release.Name }}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: {{ .Release.Name }}}
  minReplicas: 1
  maxReplicas: {{ .Values.autoscaling.maxReplicas }}
  metrics:
    - type: Resource
      resource: {name: cpu, target: {type: Utilization, averageUtilization: 80}}
{{- end }}
""",
    f"{CHART}/templates/widget.yaml": """\
apiVersion: shop.example.com/v1
kind: ShopWidget
metadata:
  name: {{ .Release.Name }}-widget
spec:
  color: {{ .Values.greeting }}
""",
    f"{CHART}/templates/tests/test-connection.yaml": """\
apiVersion: v1
kind: Pod
metadata:
  name: {{ .Release.Name }}-test
  annotations:
    "helm.sh/hook": test
spec:
  restartPolicy: Never
  containers:
    - name: wget
      image: busybox
      command: ["wget", "{{ .Release.Name }}:80"]
""",
}

KUSTOMIZE_FILES: dict[str, str] = {
    "overlays/base/kustomize/kustomization.yaml": "resources: [settings.yaml]\n",
    "overlays/base/kustomize/settings.yaml": """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: kz-settings
data:
  mode: base
  size: small
""",
}


def kustomize_overlay(env: str, mode: str) -> dict[str, str]:
    """An env's kustomization over the base, with a strategic-merge patch."""
    return {
        f"overlays/{env}/kustomize/kustomization.yaml": f"""\
resources: [../../base/kustomize]
patches:
  - patch: |-
      apiVersion: v1
      kind: ConfigMap
      metadata: {{name: kz-settings}}
      data: {{mode: {mode}}}
""",
    }


def sources(*, tag: str = "{{ values.tag }}", greeting: str = "hello", kustomize: bool = True) -> str:
    """An env's sources.yaml: the chart with values from fleet's values, and the env's kustomization."""
    text = f"""\
helm:
  - chart: ../base/charts/shop-api
    release: shop-api
    values:
      replicaCount: {{{{ values.replicas }}}}
      image: {{tag: "{tag}"}}
      greeting: {greeting}
"""
    if kustomize:
        text += "kustomize:\n  - path: kustomize\n"
    return text
