{{/*
The hardened pod template shared by every workload.
Usage: include "webhooks.podTemplate" (dict "root" $ "component" "api" "ports" (list (dict "name" "http" "port" 5000)) "probePort" "http" "appEnv" true "command" list "args" list "volumes" list "mounts" list)
Optional: "annotations" (a dict of extra pod annotations, e.g. config checksums) and
"env" (a list of EnvVar rendered before extraEnv).
*/}}
{{- define "webhooks.podTemplate" -}}
{{- $root := .root -}}
{{- $v := index $root.Values .component -}}
{{- $ctx := dict "root" $root "component" .component -}}
metadata:
  labels:
    {{- include "webhooks.labels" (merge (dict "pod" true) $ctx) | nindent 4 }}
    {{- with $v.podLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- $ann := deepCopy (default (dict) $v.podAnnotations) -}}
  {{- range $k, $val := .annotations -}}
  {{- $_ := set $ann $k $val -}}
  {{- end -}}
  {{- if .appEnv -}}
  {{- $_ := set $ann "checksum/mongodb-url" (include "webhooks.credentialsChecksum" $root) -}}
  {{- end }}
  {{- with $ann }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
spec:
  serviceAccountName: {{ include "webhooks.serviceAccountName" $ctx }}
  automountServiceAccountToken: false
  enableServiceLinks: false
  terminationGracePeriodSeconds: {{ include "webhooks.gracePeriod" $ctx }}
  {{- with $root.Values.global.imagePullSecrets }}
  imagePullSecrets:
    {{- range . }}
    - name: {{ . }}
    {{- end }}
  {{- end }}
  securityContext:
    {{- toYaml $v.podSecurityContext | nindent 4 }}
  {{- with $v.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $v.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $v.affinity }}
  affinity:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- if and $v.spread $v.spread.enabled }}
  topologySpreadConstraints:
    - topologyKey: {{ $v.spread.topologyKey }}
      maxSkew: {{ $v.spread.maxSkew }}
      whenUnsatisfiable: {{ $v.spread.whenUnsatisfiable }}
      nodeTaintsPolicy: {{ $v.spread.nodeTaintsPolicy }}
      labelSelector:
        matchLabels:
          {{- include "webhooks.selectorLabels" $ctx | nindent 10 }}
      matchLabelKeys:
        - pod-template-hash
  {{- end }}
  containers:
    - name: {{ .component }}
      image: {{ include "webhooks.image" $ctx | quote }}
      imagePullPolicy: {{ $v.image.pullPolicy }}
      {{- with .command }}
      command:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with .args }}
      args:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      ports:
        {{- range .ports }}
        - name: {{ .name }}
          containerPort: {{ .port }}
          protocol: TCP
        {{- end }}
      {{- if or .appEnv .env $v.extraEnv }}
      env:
        {{- if .appEnv }}
        {{- include "webhooks.appCredentialsEnv" $ctx | nindent 8 }}
        {{- end }}
        {{- with .env }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
        {{- with $v.extraEnv }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      {{- end }}
      {{- if $v.livenessProbe.enabled }}
      livenessProbe:
        {{- include "webhooks.probe" (dict "probe" $v.livenessProbe "port" .probePort) | nindent 8 }}
      {{- end }}
      {{- if $v.readinessProbe.enabled }}
      readinessProbe:
        {{- include "webhooks.probe" (dict "probe" $v.readinessProbe "port" .probePort) | nindent 8 }}
      {{- end }}
      {{- with (include "webhooks.preStopSleep" $ctx | int) }}
      lifecycle:
        preStop:
          sleep:
            seconds: {{ . }}
      {{- end }}
      resources:
        {{- toYaml $v.resources | nindent 8 }}
      securityContext:
        {{- $sc := deepCopy $v.securityContext -}}
        {{- if and (not (hasKey $sc "runAsUser")) $v.podSecurityContext.runAsUser -}}
        {{- $_ := set $sc "runAsUser" $v.podSecurityContext.runAsUser -}}
        {{- end -}}
        {{- if and (not (hasKey $sc "runAsGroup")) $v.podSecurityContext.runAsGroup -}}
        {{- $_ := set $sc "runAsGroup" $v.podSecurityContext.runAsGroup -}}
        {{- end }}
        {{- toYaml $sc | nindent 8 }}
      volumeMounts:
        - name: tmp
          mountPath: /tmp
        {{- with .mounts }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
  volumes:
    - name: tmp
      emptyDir: {}
    {{- with .volumes }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
{{- end -}}

{{/* A ClusterIP Service. Usage: include "webhooks.service" (dict "root" $ "component" "api" "targetPort" "http") */}}
{{- define "webhooks.service" -}}
{{- $v := index .root.Values .component -}}
{{- $ctx := dict "root" .root "component" .component -}}
apiVersion: v1
kind: Service
metadata:
  name: {{ include "webhooks.componentName" $ctx }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "webhooks.labels" $ctx | nindent 4 }}
  {{- include "webhooks.annotations" (dict "root" .root "extra" $v.service.annotations) }}
spec:
  type: {{ $v.service.type }}
  ports:
    - name: {{ .targetPort }}
      port: {{ $v.service.port }}
      targetPort: {{ .targetPort }}
      protocol: TCP
  selector:
    {{- include "webhooks.selectorLabels" $ctx | nindent 4 }}
{{- end -}}

{{/* A ServiceAccount (when serviceAccount.create). */}}
{{- define "webhooks.serviceAccount" -}}
{{- $v := index .root.Values .component -}}
{{- $ctx := dict "root" .root "component" .component -}}
{{- if $v.serviceAccount.create }}
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ include "webhooks.serviceAccountName" $ctx }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "webhooks.labels" $ctx | nindent 4 }}
  {{- include "webhooks.annotations" (dict "root" .root "extra" $v.serviceAccount.annotations) }}
automountServiceAccountToken: false
{{- end }}
{{- end -}}

{{/* A Deployment for api/ws/www/nats. Usage: like podTemplate. */}}
{{- define "webhooks.deployment" -}}
{{- $v := index .root.Values .component -}}
{{- $ctx := dict "root" .root "component" .component -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "webhooks.componentName" $ctx }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "webhooks.labels" $ctx | nindent 4 }}
  {{- include "webhooks.annotations" (dict "root" .root) }}
spec:
  {{- if not (and $v.autoscaling $v.autoscaling.enabled) }}
  replicas: {{ if kindIs "invalid" $v.replicas }}1{{ else }}{{ $v.replicas }}{{ end }}
  {{- end }}
  revisionHistoryLimit: 5
  {{- with $v.updateStrategy }}
  strategy:
    type: {{ .type }}
    {{- if and (eq .type "RollingUpdate") .rollingUpdate }}
    {{- $ru := .rollingUpdate }}
    {{- if and (hasKey $ru "maxUnavailable") (hasKey $ru "maxSurge") (eq (trimSuffix "%" (toString $ru.maxUnavailable)) "0") (eq (trimSuffix "%" (toString $ru.maxSurge)) "0") }}
    {{- fail (printf "%s.updateStrategy.rollingUpdate: maxUnavailable and maxSurge cannot both be 0" $ctx.component) }}
    {{- end }}
    rollingUpdate:
      {{- toYaml .rollingUpdate | nindent 6 }}
    {{- end }}
  {{- end }}
  selector:
    matchLabels:
      {{- include "webhooks.selectorLabels" $ctx | nindent 6 }}
  template:
    {{- include "webhooks.podTemplate" . | nindent 4 }}
{{- end -}}

{{/* PodDisruptionBudget and HPA of a Deployment (api/ws/www). */}}
{{- define "webhooks.scaling" -}}
{{- $v := index .root.Values .component -}}
{{- $ctx := dict "root" .root "component" .component -}}
{{- if $v.pdb.enabled }}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ include "webhooks.componentName" $ctx }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "webhooks.labels" $ctx | nindent 4 }}
  {{- include "webhooks.annotations" (dict "root" .root) }}
spec:
  {{- if or $v.pdb.maxUnavailable (eq (toString $v.pdb.maxUnavailable) "0") }}
  maxUnavailable: {{ $v.pdb.maxUnavailable }}
  {{- else }}
  minAvailable: {{ $v.pdb.minAvailable }}
  {{- end }}
  selector:
    matchLabels:
      {{- include "webhooks.selectorLabels" $ctx | nindent 6 }}
{{- end }}
{{- if $v.autoscaling.enabled }}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {{ include "webhooks.componentName" $ctx }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "webhooks.labels" $ctx | nindent 4 }}
  {{- include "webhooks.annotations" (dict "root" .root) }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {{ include "webhooks.componentName" $ctx }}
  minReplicas: {{ $v.autoscaling.minReplicas }}
  maxReplicas: {{ $v.autoscaling.maxReplicas }}
  metrics:
    {{- with $v.autoscaling.targetCPUUtilizationPercentage }}
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: {{ . }}
    {{- end }}
    {{- with $v.autoscaling.targetMemoryUtilizationPercentage }}
    - type: Resource
      resource:
        name: memory
        target:
          type: Utilization
          averageUtilization: {{ . }}
    {{- end }}
{{- end }}
{{- end -}}

{{/* NetworkPolicy header and a pod selector peer. */}}
{{- define "webhooks.np.meta" -}}
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {{ include "webhooks.componentName" (dict "root" .root "component" .name) }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "webhooks.labels" (dict "root" .root "component" "network-policy") | nindent 4 }}
{{- end -}}
{{- define "webhooks.np.pods" -}}
podSelector:
  matchLabels:
    {{- include "webhooks.selectorLabels" (dict "root" .root "component" .component) | nindent 4 }}
{{- end -}}
