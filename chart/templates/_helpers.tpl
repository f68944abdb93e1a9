{{/*
Naming, labels and images (Bitnami/Traefik conventions).
Component helpers take a dict: (dict "root" $ "component" "api").
*/}}

{{/* The app name: the chart name unless nameOverride is set. */}}
{{- define "webhooks.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The name prefix: empty by default (the seed's plain names), else fullnameOverride. */}}
{{- define "webhooks.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* chart label value */}}
{{- define "webhooks.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
The name template of every resource: "<component>" or "<fullname>-<component>".
Usage: include "webhooks.componentName" (dict "root" $ "component" "api")
*/}}
{{- define "webhooks.componentName" -}}
{{- $prefix := include "webhooks.fullname" .root -}}
{{- if $prefix -}}
{{- printf "%s-%s" $prefix .component | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- .component | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* Selector labels: ONLY stable labels, so upgrades never change a selector. */}}
{{- define "webhooks.selectorLabels" -}}
app.kubernetes.io/name: {{ include "webhooks.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* Labels of the release's pods as a whole (NetworkPolicy default deny). */}}
{{- define "webhooks.releaseSelectorLabels" -}}
app.kubernetes.io/name: {{ include "webhooks.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* A label value made safe: at most 63 chars of [A-Za-z0-9._-], alphanumeric at both ends. */}}
{{- define "webhooks.labelValue" -}}
{{- regexReplaceAll "[^A-Za-z0-9._-]" (toString .) "_" | trunc 63 | trimSuffix "-" | trimSuffix "_" | trimSuffix "." -}}
{{- end -}}

{{/* Common labels; version is the component's image tag when a component is given. */}}
{{- define "webhooks.labels" -}}
{{- $root := .root -}}
{{ include "webhooks.selectorLabels" . }}
{{- /* not on pod templates: a chart version bump must not replace pods (mongo-0 and its data) */}}
{{- if not .pod }}
helm.sh/chart: {{ include "webhooks.chart" $root }}
{{- end }}
{{- $version := $root.Chart.AppVersion -}}
{{- if .component -}}
{{- $v := index $root.Values .component -}}
{{- if and $v (kindIs "map" $v) (hasKey $v "tag") -}}
{{- $version = $v.tag -}}
{{- end -}}
{{- end }}
app.kubernetes.io/version: {{ include "webhooks.labelValue" $version | quote }}
app.kubernetes.io/part-of: webhooks
app.kubernetes.io/managed-by: {{ $root.Release.Service }}
{{- with $root.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Common annotations block (renders nothing when empty). Usage: include "webhooks.annotations" (dict "root" $ "extra" .someMap) */}}
{{- define "webhooks.annotations" -}}
{{- $all := merge (deepCopy (default (dict) .extra)) (default (dict) .root.Values.commonAnnotations) -}}
{{- with $all }}
  annotations:
    {{- toYaml . | nindent 4 }}
{{- end }}
{{- end -}}

{{/*
Image reference "registry/repository:tag". global.imageRegistry wins over image.registry.
Usage: include "webhooks.image" (dict "root" $ "component" "api")
*/}}
{{- define "webhooks.image" -}}
{{- $v := index .root.Values .component -}}
{{- $registry := default $v.image.registry .root.Values.global.imageRegistry -}}
{{- $tag := toString $v.tag -}}
{{- if $registry -}}
{{- printf "%s/%s:%s" $registry $v.image.repository $tag -}}
{{- else -}}
{{- printf "%s:%s" $v.image.repository $tag -}}
{{- end -}}
{{- end -}}

{{/* ServiceAccount name of a component. */}}
{{- define "webhooks.serviceAccountName" -}}
{{- $v := index .root.Values .component -}}
{{- if $v.serviceAccount.create -}}
{{- default (include "webhooks.componentName" .) $v.serviceAccount.name -}}
{{- else -}}
{{- default "default" $v.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* Name of the Secret holding the MongoDB URL. */}}
{{- define "webhooks.mongoSecretName" -}}
{{- if .Values.mongo.existingSecret -}}
{{- .Values.mongo.existingSecret -}}
{{- else -}}
{{- include "webhooks.componentName" (dict "root" . "component" "mongo") -}}
{{- end -}}
{{- end -}}

{{/* The in-chart NATS URL. */}}
{{- define "webhooks.natsUrl" -}}
{{- printf "nats://%s:%v" (include "webhooks.componentName" (dict "root" . "component" "nats")) .Values.nats.service.port -}}
{{- end -}}

{{/* Name of the ConfigMap holding the nats-server config file. */}}
{{- define "webhooks.natsConfigName" -}}
{{- include "webhooks.componentName" (dict "root" . "component" "nats-config") -}}
{{- end -}}

{{/* The nats-server config file (nats.conf); its sha256 rolls the nats pod on change. */}}
{{- define "webhooks.natsConfig" -}}
# nats-server configuration, rendered by the webhooks chart.
port: {{ .Values.nats.containerPort }}
http_port: {{ .Values.nats.monitorPort }}
max_payload: {{ .Values.nats.maxPayload }}
{{- if .Values.nats.auth.enabled }}
# Passwords come from the environment (the nats-credentials Secret), never from this ConfigMap.
# api publishes payloads (data.<name>) and the control subjects; ws only listens.
authorization {
  users = [
    {
      user: api
      password: $NATS_API_PASSWORD
      permissions: {
        publish: { allow: ["data.>", "webhooks.closed", "webhooks.resync"] }
        subscribe: { deny: [">"] }
      }
    }
    {
      user: ws
      password: $NATS_WS_PASSWORD
      permissions: {
        publish: { deny: [">"] }
        subscribe: { allow: ["data.*", "webhooks.closed", "webhooks.resync"] }
      }
    }
  ]
}
{{- end }}
{{- end -}}

{{/* The generated MongoDB URL (in-chart mongo Service); with (dict "root" $ "user" u "password" p) it carries the user. */}}
{{- define "webhooks.generatedMongoUrl" -}}
{{- $root := .root | default . -}}
{{- $host := printf "%s:%v/%s" (include "webhooks.componentName" (dict "root" $root "component" "mongo")) $root.Values.mongo.service.port $root.Values.mongo.database -}}
{{- if .password -}}
{{- printf "mongodb://%s:%s@%s?authSource=%s" .user .password $host $root.Values.mongo.auth.authSource -}}
{{- else -}}
{{- printf "mongodb://%s" $host -}}
{{- end -}}
{{- end -}}

{{/*
The data of the release's existing Secret `name` (base64 values), as YAML; `{}` when there
is none, and always under `helm template` (no cluster: `lookup` returns nothing).
Usage: include "webhooks.existingSecretData" (dict "root" $ "name" "mongo") | fromYaml
*/}}
{{- define "webhooks.existingSecretData" -}}
{{- $existing := lookup "v1" "Secret" .root.Release.Namespace .name -}}
{{- if and $existing $existing.data -}}
{{- toYaml $existing.data -}}
{{- else -}}
{}
{{- end -}}
{{- end -}}

{{/*
How the in-chart mongo authenticates: "on" (a user, its password in the Secret), "off"
(mongo.auth.enabled false, no in-chart mongo, or the URL comes from mongo.url or
mongo.existingSecret), or "legacy": the release's Secret predates credentials (chart < 0.3.0:
a URL and no password) and no mongo.auth.password is given, so its data directory has no
user; it keeps running without one (NOTES.txt says how to turn it on).
*/}}
{{- define "webhooks.mongoAuthMode" -}}
{{- $m := .Values.mongo -}}
{{- if or (not $m.enabled) (not $m.auth.enabled) $m.url $m.existingSecret -}}
off
{{- else -}}
{{- $data := include "webhooks.existingSecretData" (dict "root" . "name" (include "webhooks.mongoSecretName" .)) | fromYaml -}}
{{- if and (hasKey $data $m.secretKey) (not (hasKey $data "mongo_password")) (not $m.auth.password) -}}
legacy
{{- else -}}
on
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
A generated credential: `.value` when given, else the existing Secret's `.key` (kept across
upgrades), else 32 random alphanumerics. Called once per render, by the Secret's template only
(everything else reads the Secret), since every call of randAlphaNum draws anew.
Usage: include "webhooks.credential" (dict "value" .Values.x "data" $existingData "key" "k")
*/}}
{{- define "webhooks.credential" -}}
{{- if .value -}}
{{- .value -}}
{{- else if hasKey .data .key -}}
{{- index .data .key | b64dec -}}
{{- else -}}
{{- randAlphaNum 32 -}}
{{- end -}}
{{- end -}}

{{/* Name of the Secret holding the NATS users' passwords. */}}
{{- define "webhooks.natsSecretName" -}}
{{- include "webhooks.componentName" (dict "root" . "component" "nats-credentials") -}}
{{- end -}}

{{/*
The env of api/ws that carries credentials: MONGODB_URL from the mongo Secret, NATS_URL, and
the service's NATS user (api or ws) with its password from the NATS Secret.
Usage: include "webhooks.appCredentialsEnv" (dict "root" $ "component" "api")
*/}}
{{- define "webhooks.appCredentialsEnv" -}}
{{- $root := .root -}}
- name: MONGODB_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "webhooks.mongoSecretName" $root }}
      key: {{ $root.Values.mongo.secretKey }}
- name: NATS_URL
  value: {{ include "webhooks.natsUrl" $root | quote }}
{{- if $root.Values.nats.auth.enabled }}
- name: NATS_USER
  value: {{ .component | quote }}
- name: NATS_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "webhooks.natsSecretName" $root }}
      key: {{ printf "%s_password" .component }}
{{- end }}
{{- end -}}

{{/* TRUSTED_PROXIES of api, ws and www: the ingress's addresses (empty: nobody's forwarded headers count). */}}
{{- define "webhooks.trustedProxiesEnv" -}}
- name: TRUSTED_PROXIES
  value: {{ join "," .Values.trustedProxies | quote }}
{{- end -}}

{{/*
A checksum of the credentials set in values (never of generated ones, which differ on every
`helm template`): changing mongo.url, a password or the auth switches rolls api and ws.
*/}}
{{- define "webhooks.credentialsChecksum" -}}
{{- toJson (dict "url" .Values.mongo.url "mongo" .Values.mongo.auth "nats" .Values.nats.auth "secret" .Values.mongo.existingSecret) | sha256sum -}}
{{- end -}}

{{/* Validation of combinations the schema cannot express. */}}
{{- define "webhooks.validate" -}}
{{- if and (not .Values.mongo.enabled) (not .Values.mongo.url) (not .Values.mongo.existingSecret) -}}
{{- fail "mongo.enabled is false: set mongo.url or mongo.existingSecret so api and ws can reach a MongoDB" -}}
{{- end -}}
{{- if and .Values.tls.enabled (not .Values.tls.certResolver) (not .Values.tls.secretName) (not .Values.ingress.enabled) -}}
{{- fail "tls.enabled is true: set tls.certResolver or tls.secretName" -}}
{{- end -}}
{{- if and .Values.ingress.enabled .Values.tls.enabled (not .Values.tls.secretName) -}}
{{- fail "tls.enabled with ingress.enabled needs tls.secretName (a standard Ingress has no certificate resolver)" -}}
{{- end -}}
{{- end -}}

{{/* An httpGet/tcpSocket probe from the Bitnami-style values. Usage: include "webhooks.probe" (dict "probe" $v.livenessProbe "port" "http") */}}
{{- define "webhooks.probe" -}}
{{- if .probe.path -}}
httpGet:
  path: {{ .probe.path }}
  port: {{ .port }}
{{- else -}}
tcpSocket:
  port: {{ .port }}
{{- end }}
initialDelaySeconds: {{ .probe.initialDelaySeconds }}
periodSeconds: {{ .probe.periodSeconds }}
timeoutSeconds: {{ .probe.timeoutSeconds }}
failureThreshold: {{ .probe.failureThreshold }}
successThreshold: {{ .probe.successThreshold }}
{{- end -}}


{{/*
terminationGracePeriodSeconds of a component (default 30).
Usage: include "webhooks.gracePeriod" (dict "root" $ "component" "api")
*/}}
{{- define "webhooks.gracePeriod" -}}
{{- $v := index .root.Values .component -}}
{{- if kindIs "invalid" $v.terminationGracePeriodSeconds -}}30{{- else -}}{{ int64 $v.terminationGracePeriodSeconds }}{{- end -}}
{{- end -}}

{{/*
Seconds of the preStop sleep of a component's main container (0: no hook). Fails the
render unless it is lower than terminationGracePeriodSeconds: the kubelet counts the
grace period from the start of the hook, so a longer sleep ends in SIGKILL.
Usage: include "webhooks.preStopSleep" (dict "root" $ "component" "api")
*/}}
{{- define "webhooks.preStopSleep" -}}
{{- $v := index .root.Values .component -}}
{{- $sleep := 0 -}}
{{- if and $v.lifecycle (not (kindIs "invalid" $v.lifecycle.preStopSleepSeconds)) -}}
{{- $sleep = int64 $v.lifecycle.preStopSleepSeconds -}}
{{- end -}}
{{- $grace := include "webhooks.gracePeriod" . | int64 -}}
{{- if and (gt $sleep 0) (ge $sleep $grace) -}}
{{- fail (printf "%s.lifecycle.preStopSleepSeconds (%d) must be lower than %s.terminationGracePeriodSeconds (%d): the kubelet kills the container when the grace period ends, sleep included" .component $sleep .component $grace) -}}
{{- end -}}
{{- $sleep -}}
{{- end -}}
