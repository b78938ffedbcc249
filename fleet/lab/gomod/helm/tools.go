//go:build tools

// Package tools keeps the helm command in this module's build list.
package tools

import _ "helm.sh/helm/v3/cmd/helm"
