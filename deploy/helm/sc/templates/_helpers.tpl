{{- define "sc.labels" -}}
app.kubernetes.io/name: sc
app.kubernetes.io/part-of: sluice
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}
{{- define "sc.selector" -}}
app.kubernetes.io/name: sc
app.kubernetes.io/part-of: sluice
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}
