{{- define "sub.item" -}}
item{{ . }}
{{- end -}}
