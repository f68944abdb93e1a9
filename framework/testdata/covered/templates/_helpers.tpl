{{/* Helpers of the coverage self-test chart. */}}
{{- define "covered.name" -}}
{{- default .Chart.Name .Values.nameOverride -}}
{{- end -}}

{{- define "covered.tier" -}}
{{- if eq .Values.tier "gold" -}}
premium
{{- else if eq .Values.tier "silver" -}}
standard
{{- else -}}
basic
{{- end -}}
{{- end -}}

{{- define "covered.unused" -}}
never: called
{{- end -}}
