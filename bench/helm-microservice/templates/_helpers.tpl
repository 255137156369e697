{{- define "bench.selector" -}}
app.kubernetes.io/name: {{ .msName }}
app.kubernetes.io/instance: {{ .fullName }}
{{- end }}

{{- define "bench.labels" -}}
{{ include "bench.selector" .s }}
app.kubernetes.io/version: {{ .s.version | quote }}
app.kubernetes.io/component: {{ .component }}
app.kubernetes.io/part-of: {{ .s.msName }}
app.kubernetes.io/managed-by: kiln
{{- end }}

{{- define "bench.meta" -}}
name: {{ .s.fullName }}
namespace: {{ .s.namespace }}
labels:
  {{- include "bench.labels" . | nindent 2 }}
  {{- if .auth }}
  kiln.dev/auth: {{ if .s.needAuth }}required{{ else }}none{{ end }}
  {{- end }}
annotations:
  argocd.argoproj.io/sync-options: PruneLast=true
  kiln.dev/spec: {{ printf "MicroServiceDeploy %s/%s" .s.namespace .s.fullName }}
{{- end }}
