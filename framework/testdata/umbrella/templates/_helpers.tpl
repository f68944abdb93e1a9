{{- define "umbrella.suffix" -}}
{{- if .Values.sub.enabled }}with-sub{{ else }}alone{{ end -}}
{{- end -}}
