{{- define "podium.name" -}}podium{{- end -}}

{{- define "podium.labels" -}}
app.kubernetes.io/name: podium
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* The gateway's pods: what its Service selects and the runners' NetworkPolicy admits. */}}
{{- define "podium.gatewayLabels" -}}
app.kubernetes.io/name: podium
app.kubernetes.io/component: gateway
{{- end -}}

{{- define "podium.image" -}}
{{- $tag := .image.tag | default .appVersion -}}
{{- printf "%s/%s:%s" .registry .image.repository $tag -}}
{{- end -}}

{{- define "podium.usesSQLite" -}}
{{- if not .Values.database.existingSecret -}}true{{- end -}}
{{- end -}}
