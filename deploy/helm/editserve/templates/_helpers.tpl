{{/* Names and labels. */}}
{{- define "editserve.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "editserve.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "editserve.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ include "editserve.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* Selector labels of one component: (dict "root" $ "component" "api") */}}
{{- define "editserve.selectorLabels" -}}
app.kubernetes.io/name: {{ include "editserve.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "editserve.componentLabels" -}}
{{ include "editserve.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "editserve.image" -}}
{{- $image := .image -}}
{{- printf "%s:%s" $image.repository (default .root.Chart.AppVersion $image.tag | toString) -}}
{{- end -}}

{{/*
Model ids. editserve resolves a model name (an id or an alias, any case) to its id
(src/editserve/models/registry.py); jobs are stored by id, so the KEDA query must count ids.
This map is the registry's aliases; tests/contract/test_helm_chart.py checks it against the
registry, so a model added there without its aliases here fails the tests.
*/}}
{{- define "editserve.modelAliases" -}}
qwen-image-edit-2509: qwen-image-edit-plus
qwen/qwen-image-edit-2509: qwen-image-edit-plus
qwen/qwen-image-edit-2511: qwen-image-edit-2511
qwen/qwen-image-edit: qwen-image-edit
qwen/qwen-image-layered: qwen-image-layered
qwen/qwen-image: qwen-image
qwen/qwen-image-2512: qwen-image-2512
{{- end -}}

{{- define "editserve.modelIds" -}}
{{- $aliases := include "editserve.modelAliases" . | fromYaml -}}
{{- $ids := list -}}
{{- if not .Values.models -}}
{{- fail "models: name at least one model (e.g. [qwen-image-edit-plus]); the workers serve these and KEDA counts their jobs" -}}
{{- end -}}
{{- range .Values.models -}}
{{- $name := lower (toString .) -}}
{{- $id := get $aliases $name | default $name -}}
{{- if not (regexMatch "^[a-z0-9][a-z0-9._-]*$" $id) -}}
{{- fail (printf "models: %q is not a model id or alias (ids are lower-case letters, digits, '.', '-' and '_', e.g. qwen-image-edit-plus)" (toString .)) -}}
{{- end -}}
{{- $ids = append $ids $id -}}
{{- end -}}
{{- $ids | uniq | join "," -}}
{{- end -}}

{{/*
The queue depth the workers are scaled on: queued + processing generations of the served
models. Two counts, so each is read from a partial index of its status (generations_claim is
(model, …) WHERE status = 'queued'; the processing ones are few: one batch per worker).
*/}}
{{- define "editserve.queueDepthQuery" -}}
{{- if .Values.keda.query -}}
{{- .Values.keda.query -}}
{{- else -}}
{{- $quoted := list -}}
{{- range splitList "," (include "editserve.modelIds" .) -}}
{{- $quoted = append $quoted (printf "'%s'" .) -}}
{{- end -}}
{{- $in := join ", " $quoted -}}
SELECT (SELECT count(*) FROM generations WHERE status = 'queued' AND model IN ({{ $in }})) + (SELECT count(*) FROM generations WHERE status = 'processing' AND model IN ({{ $in }})) AS queue_depth
{{- end -}}
{{- end -}}

{{- define "editserve.publicUrl" -}}
{{- if .Values.publicUrl -}}
{{- .Values.publicUrl -}}
{{- else if and .Values.ingress.enabled .Values.ingress.hosts -}}
{{- $host := (first .Values.ingress.hosts).host -}}
{{- $tls := false -}}
{{- range .Values.ingress.tls -}}{{- if has $host .hosts -}}{{- $tls = true -}}{{- end -}}{{- end -}}
{{- printf "%s://%s" (ternary "https" "http" $tls) $host -}}
{{- end -}}
{{- end -}}

{{/*
The chart's own Secret holds only what was given as a value; each secret comes from there or
from the existingSecret named for it. (dict "root" $ "secretName" <the chart's Secret>)
*/}}
{{- define "editserve.chartSecretData" -}}
{{- $v := .Values -}}
{{- if $v.database.url }}
database-url: {{ $v.database.url | b64enc | quote }}
{{- end }}
{{- if $v.signing.secret }}
signing-secret: {{ $v.signing.secret | b64enc | quote }}
{{- end }}
{{- if $v.storage.accessKeyId }}
s3-access-key-id: {{ $v.storage.accessKeyId | b64enc | quote }}
s3-secret-access-key: {{ $v.storage.secretAccessKey | b64enc | quote }}
{{- end }}
{{- if $v.huggingface.token }}
hf-token: {{ $v.huggingface.token | b64enc | quote }}
{{- end }}
{{- end -}}

{{- define "editserve.secretRef" -}}
valueFrom:
  secretKeyRef:
    name: {{ .name }}
    key: {{ .key }}
{{- end -}}

{{/* The database URL's Secret and key: (dict "root" $ "secretName" …) */}}
{{- define "editserve.databaseSecret" -}}
{{- if .root.Values.database.existingSecret -}}
{{ dict "name" .root.Values.database.existingSecret "key" .root.Values.database.existingSecretKey | toYaml }}
{{- else -}}
{{ dict "name" .secretName "key" "database-url" | toYaml }}
{{- end -}}
{{- end -}}

{{/* The environment every editserve node gets: (dict "root" $ "secretName" …) */}}
{{- define "editserve.sharedEnv" -}}
{{- $root := .root -}}
{{- $v := $root.Values -}}
- name: EDITSERVE_DATABASE_URL
  {{- include "editserve.secretRef" (include "editserve.databaseSecret" . | fromYaml) | nindent 2 }}
- name: EDITSERVE_SIGNING_SECRET
  {{- if $v.signing.existingSecret }}
  {{- include "editserve.secretRef" (dict "name" $v.signing.existingSecret "key" $v.signing.existingSecretKey) | nindent 2 }}
  {{- else }}
  {{- include "editserve.secretRef" (dict "name" .secretName "key" "signing-secret") | nindent 2 }}
  {{- end }}
- name: EDITSERVE_STORAGE_URL
  value: {{ $v.storage.url | quote }}
{{- if $v.storage.s3EndpointUrl }}
- name: EDITSERVE_S3_ENDPOINT_URL
  value: {{ $v.storage.s3EndpointUrl | quote }}
{{- end }}
- name: AWS_REGION
  value: {{ $v.storage.region | quote }}
{{- if $v.storage.existingSecret }}
- name: AWS_ACCESS_KEY_ID
  {{- include "editserve.secretRef" (dict "name" $v.storage.existingSecret "key" $v.storage.accessKeyIdKey) | nindent 2 }}
- name: AWS_SECRET_ACCESS_KEY
  {{- include "editserve.secretRef" (dict "name" $v.storage.existingSecret "key" $v.storage.secretAccessKeyKey) | nindent 2 }}
{{- else if $v.storage.accessKeyId }}
- name: AWS_ACCESS_KEY_ID
  {{- include "editserve.secretRef" (dict "name" .secretName "key" "s3-access-key-id") | nindent 2 }}
- name: AWS_SECRET_ACCESS_KEY
  {{- include "editserve.secretRef" (dict "name" .secretName "key" "s3-secret-access-key") | nindent 2 }}
{{- end }}
- name: EDITSERVE_MODELS
  value: {{ include "editserve.modelIds" $root | quote }}
- name: EDITSERVE_MODEL_WEIGHTS
  value: {{ $v.modelWeights | quote }}
{{- with include "editserve.publicUrl" $root }}
- name: EDITSERVE_PUBLIC_URL
  value: {{ . | quote }}
{{- end }}
{{- range $name, $value := $v.settings }}
- name: {{ $name }}
  value: {{ $value | toString | quote }}
{{- end }}
{{- end -}}

{{/* Extra env of one role (a map of strings). */}}
{{- define "editserve.extraEnv" -}}
{{- range $name, $value := . }}
- name: {{ $name }}
  value: {{ $value | toString | quote }}
{{- end }}
{{- end -}}

{{/* The chart's Secret's checksum, so that pods roll when a secret value changes. */}}
{{- define "editserve.secretChecksum" -}}
{{- include "editserve.chartSecretData" . | sha256sum -}}
{{- end -}}

{{/*
Checks that make rendering fail with a message naming the value: included by the API
Deployment, the worker Deployment and the migrate Job.
*/}}
{{- define "editserve.validate" -}}
{{- $v := .Values -}}
{{- $_ := required "api.image.repository is required: the API image (build docker/api.Dockerfile and push it to a registry your cluster pulls from)" $v.api.image.repository -}}
{{- $_ = required "worker.image.repository is required: the GPU worker image (build docker/worker.Dockerfile and push it to a registry your cluster pulls from)" $v.worker.image.repository -}}
{{- if and $v.database.url $v.database.existingSecret -}}
{{- fail "database: set database.url or database.existingSecret, not both" -}}
{{- end -}}
{{- if not (or $v.database.url $v.database.existingSecret) -}}
{{- fail "database.url is required (postgresql://user:password@host:5432/editserve), or database.existingSecret naming a Secret that holds it (key: database.existingSecretKey)" -}}
{{- end -}}
{{- if and $v.database.url (not (regexMatch "^postgres(ql)?://" $v.database.url)) -}}
{{- fail "database.url must be a PostgreSQL URL (postgresql://…): every pod shares one database" -}}
{{- end -}}
{{- if and $v.signing.secret $v.signing.existingSecret -}}
{{- fail "signing: set signing.secret or signing.existingSecret, not both" -}}
{{- end -}}
{{- if not (or $v.signing.secret $v.signing.existingSecret) -}}
{{- fail "signing.secret is required (the link signing secret, the same on every node: openssl rand -hex 32), or signing.existingSecret" -}}
{{- end -}}
{{- $_ = required "storage.url is required: the shared bucket, s3://bucket/prefix" $v.storage.url -}}
{{- if not (hasPrefix "s3://" $v.storage.url) -}}
{{- fail "storage.url must be s3://bucket/prefix: pods share no disk, so inputs and results live in one bucket" -}}
{{- end -}}
{{- $keys := or $v.storage.accessKeyId $v.storage.secretAccessKey -}}
{{- if and $keys (not (and $v.storage.accessKeyId $v.storage.secretAccessKey)) -}}
{{- fail "storage: set both storage.accessKeyId and storage.secretAccessKey" -}}
{{- end -}}
{{- if and $keys $v.storage.existingSecret -}}
{{- fail "storage: set the keys or storage.existingSecret, not both" -}}
{{- end -}}
{{- if and $v.storage.ambientCredentials (or $keys $v.storage.existingSecret) -}}
{{- fail "storage.ambientCredentials is true: leave storage.accessKeyId, storage.secretAccessKey and storage.existingSecret empty" -}}
{{- end -}}
{{- if not (or $keys $v.storage.existingSecret $v.storage.ambientCredentials) -}}
{{- fail "storage credentials are required: storage.accessKeyId and storage.secretAccessKey, or storage.existingSecret, or storage.ambientCredentials: true to use the pod's own identity (IRSA, workload identity)" -}}
{{- end -}}
{{- if and $v.huggingface.token $v.huggingface.existingSecret -}}
{{- fail "huggingface: set huggingface.token or huggingface.existingSecret, not both" -}}
{{- end -}}
{{- $_ = include "editserve.modelIds" . -}}
{{- $gpus := int $v.worker.gpu.count -}}
{{- if not (has $gpus (list 0 1)) -}}
{{- fail (printf "worker.gpu.count is %d: an editserve worker uses one GPU (1), or none (0, CPU); run more workers for more GPUs" $gpus) -}}
{{- end -}}
{{- if not (has $v.worker.hfCache.type (list "emptyDir" "pvc" "existingClaim")) -}}
{{- fail (printf "worker.hfCache.type is %q: one of emptyDir, pvc, existingClaim" $v.worker.hfCache.type) -}}
{{- end -}}
{{- if eq $v.worker.hfCache.type "existingClaim" -}}
{{- $_ = required "worker.hfCache.existingClaim is required when worker.hfCache.type is existingClaim" $v.worker.hfCache.existingClaim -}}
{{- end -}}
{{- if $v.api.autoscaling.enabled -}}
{{- if not (dig "requests" "cpu" "" $v.api.resources) -}}
{{- fail "api.autoscaling needs api.resources.requests.cpu: the HPA scales on CPU use relative to the request" -}}
{{- end -}}
{{- end -}}
{{- if $v.keda.enabled -}}
{{- if le (float64 $v.keda.targetQueryValue) 0.0 -}}
{{- fail "keda.targetQueryValue must be above 0 (queued + processing jobs per worker)" -}}
{{- end -}}
{{- if gt (int $v.keda.minReplicaCount) (int $v.keda.maxReplicaCount) -}}
{{- fail "keda.minReplicaCount is above keda.maxReplicaCount" -}}
{{- end -}}
{{- if and $v.keda.connection.existingSecret (not $v.keda.connection.existingSecretKey) -}}
{{- fail "keda.connection.existingSecretKey is required with keda.connection.existingSecret" -}}
{{- end -}}
{{- if and (eq (int $v.keda.minReplicaCount) 0) (contains "/readyz" (toYaml $v.api.readinessProbe)) -}}
{{- fail "api.readinessProbe must not ask /readyz while keda.minReplicaCount is 0: /readyz is 503 until a worker has loaded a model, so with no worker no API pod would be ready, no job enqueued and no worker started" -}}
{{- end -}}
{{- end -}}
{{- end -}}
