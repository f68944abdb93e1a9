{{- define "tricky.empty" -}}
{{- if .Values.never }}never{{ end -}}
{{- end -}}

{{- define "tricky.word" -}}
{{- default "word" .Values.word -}}
{{- end -}}

{{- define "tricky.yaml" -}}
key: {{ .Values.name | quote }}
list:
{{- range .Values.items }}
  - {{ . }}
{{- end }}
{{- end -}}

{{- define "tricky.block" -}}
{{ block "tricky.inner" . }}inner-default {{ .Values.name }}{{ end }}
{{- end -}}
