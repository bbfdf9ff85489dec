{{/* Names, labels and derived values shared by the templates. */}}

{{- define "smartcity.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The release's object name: <release> when it already contains the chart's name, else <release>-smartcity. */}}
{{- define "smartcity.fullname" -}}
{{- if contains .Chart.Name .Release.Name }}
{{- .Release.Name | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 52 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{- define "smartcity.headless" -}}
{{- printf "%s-members" (include "smartcity.fullname" .) }}
{{- end }}

{{- define "smartcity.selectorLabels" -}}
app.kubernetes.io/name: {{ include "smartcity.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "smartcity.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "smartcity.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/component: stream
{{- end }}

{{- define "smartcity.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "smartcity.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The Secret with the S3 credentials: the existing one, or the one this chart creates. */}}
{{- define "smartcity.secretName" -}}
{{- if .Values.credentials.existingSecret }}
{{- .Values.credentials.existingSecret }}
{{- else }}
{{- printf "%s-s3" (include "smartcity.fullname" .) }}
{{- end }}
{{- end }}

{{/* True ("true") when the container reads credentials from a Secret. */}}
{{- define "smartcity.hasCredentials" -}}
{{- if or .Values.credentials.existingSecret .Values.credentials.create.accessKeyId }}true{{- end }}
{{- end }}

{{/* The container's memory limit in MiB: --memory-limit plus the headroom, rounded up. */}}
{{- define "smartcity.memoryLimitMiB" -}}
{{- $m := int .Values.memory.limitMiB }}
{{- $h := int .Values.memory.headroomPercent }}
{{- div (add (mul $m (add 100 $h)) 99) 100 }}
{{- end }}

{{- define "smartcity.image" -}}
{{- if not .Values.image.repository }}
{{- fail "image.repository is required: an image holding the smartcity binary (deploy/README.md)" }}
{{- end }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
