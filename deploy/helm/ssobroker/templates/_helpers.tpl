{{/* Names and labels. */}}
{{- define "ssobroker.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "ssobroker.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "ssobroker.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ssobroker.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "ssobroker.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "ssobroker.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "ssobroker.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/* The Secret the chart creates from secretKey.value, database.url and redis.url. */}}
{{- define "ssobroker.secretName" -}}
{{- include "ssobroker.fullname" . -}}
{{- end -}}

{{- define "ssobroker.hasDatabase" -}}
{{- if or .Values.database.existingSecret .Values.database.url -}}true{{- end -}}
{{- end -}}

{{- define "ssobroker.hasRedis" -}}
{{- if or .Values.redis.existingSecret .Values.redis.url -}}true{{- end -}}
{{- end -}}

{{- define "ssobroker.needsSecret" -}}
{{- if or (and .Values.secretKey.value (not .Values.secretKey.existingSecret)) (and .Values.database.url (not .Values.database.existingSecret)) (and .Values.redis.url (not .Values.redis.existingSecret)) -}}true{{- end -}}
{{- end -}}

{{/*
Refuse values that cannot work, at render time (docs/operations.md, "Kubernetes").
Included by every template, so `helm install`, `helm upgrade` and `helm template` stop
with the message.
*/}}
{{- define "ssobroker.validate" -}}
{{- $v := .Values -}}
{{- if not $v.issuer -}}
{{- fail "issuer is required: the public https URL of the broker, e.g. --set issuer=https://sso.example.com (SSOBROKER_ISSUER)" -}}
{{- end -}}
{{- if and (not $v.secretKey.existingSecret) (not $v.secretKey.value) -}}
{{- fail "no secret key: set secretKey.existingSecret to a Secret holding the key under secretKey.key (recommended), or secretKey.value to the output of `openssl rand -base64 32` (SSOBROKER_SECRET_KEY)" -}}
{{- end -}}
{{- if and $v.secretKey.existingSecret $v.secretKey.value -}}
{{- fail "secretKey: set existingSecret or value, not both" -}}
{{- end -}}
{{- if and $v.database.existingSecret $v.database.url -}}
{{- fail "database: set existingSecret or url, not both" -}}
{{- end -}}
{{- if and $v.redis.existingSecret $v.redis.url -}}
{{- fail "redis: set existingSecret or url, not both" -}}
{{- end -}}
{{- if and $v.database.url (not (regexMatch "^postgres(ql)?://" $v.database.url)) -}}
{{- fail "database.url must be a postgres:// or postgresql:// URL" -}}
{{- end -}}
{{- if and $v.redis.url (not (regexMatch "^(redis|rediss|redis\\+cluster|rediss\\+cluster|redis\\+sentinel|rediss\\+sentinel|unix|redis\\+unix)://" $v.redis.url)) -}}
{{- fail "redis.url must be a redis://, rediss://, redis+cluster://, redis+sentinel:// or unix:// URL (comma-separated seeds for a Redis Cluster)" -}}
{{- end -}}
{{- if gt (int $v.replicaCount) 1 -}}
{{- if not (include "ssobroker.hasDatabase" .) -}}
{{- fail (printf "replicaCount is %d but there is no database: the embedded SQLite store cannot be shared between pods; set database.existingSecret or database.url (PostgreSQL), or replicaCount=1" (int $v.replicaCount)) -}}
{{- end -}}
{{- if not (include "ssobroker.hasRedis" .) -}}
{{- fail (printf "replicaCount is %d but there is no Redis: a sign-in may start on one pod and finish on another; set redis.existingSecret or redis.url, or replicaCount=1" (int $v.replicaCount)) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* The broker's environment, shared by the Deployment and the migration Job. */}}
{{- define "ssobroker.env" -}}
- name: SSOBROKER_ADDR
  value: ":8080"
- name: SSOBROKER_ISSUER
  value: {{ .Values.issuer | quote }}
- name: SSOBROKER_DATA_DIR
  value: /data
- name: SSOBROKER_LOG_FORMAT
  value: {{ .Values.logFormat | quote }}
- name: SSOBROKER_SIGNING_ALG
  value: {{ .Values.signingAlg | quote }}
- name: SSOBROKER_ID_TOKEN_ALG
  value: {{ .Values.idTokenAlg | quote }}
- name: SSOBROKER_MIGRATION_LOCK_TIMEOUT
  value: {{ .Values.migrationLockTimeout | quote }}
{{- with .Values.trustedProxies }}
- name: SSOBROKER_TRUSTED_PROXIES
  value: {{ . | quote }}
{{- end }}
- name: SSOBROKER_SECRET_KEY
  valueFrom:
    secretKeyRef:
      name: {{ default (include "ssobroker.secretName" .) .Values.secretKey.existingSecret }}
      key: {{ .Values.secretKey.key }}
{{- if include "ssobroker.hasDatabase" . }}
- name: SSOBROKER_DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ default (include "ssobroker.secretName" .) .Values.database.existingSecret }}
      key: {{ .Values.database.key }}
{{- end }}
{{- if include "ssobroker.hasRedis" . }}
- name: SSOBROKER_REDIS_URL
  valueFrom:
    secretKeyRef:
      name: {{ default (include "ssobroker.secretName" .) .Values.redis.existingSecret }}
      key: {{ .Values.redis.key }}
{{- end }}
{{- with .Values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end -}}
