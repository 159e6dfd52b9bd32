{{- define "sc-server.labels" -}}
app.kubernetes.io/name: sc-server
app.kubernetes.io/part-of: sluice
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}
{{- define "sc-server.selector" -}}
app.kubernetes.io/name: sc-server
app.kubernetes.io/part-of: sluice
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}
{{- define "sc-server.claim" -}}
{{- .Values.persistence.existingClaim | default (print .Release.Name "-data") -}}
{{- end -}}
