{{/*
Expand the name of the chart.
*/}}
{{- define "xray-screening.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Create a default fully qualified app name (63 chars max, the DNS-1123 label limit).
If the release name contains the chart name it is used as the full name.
*/}}
{{- define "xray-screening.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Chart name and version as used by the chart label.
*/}}
{{- define "xray-screening.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Selector labels.
*/}}
{{- define "xray-screening.selectorLabels" -}}
app.kubernetes.io/name: {{ include "xray-screening.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
Common labels.
*/}}
{{- define "xray-screening.labels" -}}
helm.sh/chart: {{ include "xray-screening.chart" . }}
{{ include "xray-screening.selectorLabels" . }}
{{- if .Chart.AppVersion }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: xray-screening
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
Labels of one component: common labels + app.kubernetes.io/component.
Usage: include "xray-screening.componentLabels" (dict "ctx" $ "component" "stream-job")
*/}}
{{- define "xray-screening.componentLabels" -}}
{{ include "xray-screening.labels" .ctx }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/*
Selector labels of one component.
*/}}
{{- define "xray-screening.componentSelectorLabels" -}}
{{ include "xray-screening.selectorLabels" .ctx }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/*
Name of the ServiceAccount.
*/}}
{{- define "xray-screening.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "xray-screening.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
Name of the FlinkDeployment. It becomes the Flink cluster id and the prefix of the JobManager
Deployment and Service names, so it is kept to 45 characters.
*/}}
{{- define "xray-screening.flinkDeploymentName" -}}
{{- printf "%s-stream" (include "xray-screening.fullname" . | trunc 38 | trimSuffix "-") }}
{{- end }}

{{/* Claim names: an existing claim wins over the generated one. */}}
{{- define "xray-screening.registryClaimName" -}}
{{- default (printf "%s-registry" (include "xray-screening.fullname" .)) .Values.registry.persistence.existingClaim }}
{{- end }}

{{- define "xray-screening.trainingStoreClaimName" -}}
{{- default (printf "%s-training-store" (include "xray-screening.fullname" .)) .Values.trainingStore.persistence.existingClaim }}
{{- end }}

{{- define "xray-screening.flinkStateClaimName" -}}
{{- default (printf "%s-flink-state" (include "xray-screening.fullname" .)) .Values.streamJob.state.persistence.existingClaim }}
{{- end }}

{{- define "xray-screening.kafkaConfigMapName" -}}
{{- printf "%s-kafka-client" (include "xray-screening.fullname" .) }}
{{- end }}

{{- define "xray-screening.jobConfigMapName" -}}
{{- printf "%s-stream-job-config" (include "xray-screening.fullname" .) }}
{{- end }}

{{/*
Image reference: repository:tag, the tag defaulting to the chart's appVersion.
Usage: include "xray-screening.image" (dict "image" .Values.streamJob.image "ctx" $)
*/}}
{{- define "xray-screening.image" -}}
{{- printf "%s:%s" .image.repository (default .ctx.Chart.AppVersion (toString .image.tag)) }}
{{- end }}

{{/* Fixed paths inside every pod. */}}
{{- define "xray-screening.kafkaPropertiesPath" -}}/etc/xray/kafka/client.properties{{- end }}
{{- define "xray-screening.kafkaAuthDir" -}}/etc/xray/kafka-auth{{- end }}
{{- define "xray-screening.kafkaTlsDir" -}}/etc/xray/kafka-tls{{- end }}
{{- define "xray-screening.jobConfigPath" -}}/etc/xray/job/job.properties{{- end }}

{{/*
Whether the SASL / TLS parts of the client configuration are in use.
*/}}
{{- define "xray-screening.kafkaSasl" -}}
{{- if hasPrefix "SASL_" (upper .Values.kafka.securityProtocol) }}true{{- end }}
{{- end }}

{{- define "xray-screening.kafkaSsl" -}}
{{- if hasSuffix "SSL" (upper .Values.kafka.securityProtocol) }}true{{- end }}
{{- end }}

{{/*
Checks on values that would otherwise fail only at run time.
*/}}
{{- define "xray-screening.validate" -}}
{{- if not (has .Values.nativeRuntime.allocator (list "jemalloc" "glibc")) }}
{{- fail (printf "nativeRuntime.allocator must be jemalloc or glibc, got %q" .Values.nativeRuntime.allocator) }}
{{- end }}
{{- $protocols := list "PLAINTEXT" "SSL" "SASL_PLAINTEXT" "SASL_SSL" }}
{{- if not (has (upper .Values.kafka.securityProtocol) $protocols) }}
{{- fail (printf "kafka.securityProtocol must be one of %s, got %q" (join ", " $protocols) .Values.kafka.securityProtocol) }}
{{- end }}
{{- if and (include "xray-screening.kafkaSasl" .) (not .Values.kafka.auth.existingSecret) }}
{{- fail "kafka.securityProtocol is SASL_*: set kafka.auth.existingSecret to a Secret holding the JAAS config (no credentials in values)" }}
{{- end }}
{{- if and (include "xray-screening.kafkaSasl" .) (not .Values.kafka.auth.jaasConfigKey) }}
{{- fail "kafka.securityProtocol is SASL_*: set kafka.auth.jaasConfigKey (the Secret key holding sasl.jaas.config)" }}
{{- end }}
{{- range $k, $v := .Values.kafka.clientProperties }}
{{- $key := lower (toString $k) }}
{{- if or (contains "password" $key) (contains "jaas" $key) (contains "secret" $key) (hasSuffix ".key" $key) (contains "keystore.key" $key) }}
{{- fail (printf "kafka.clientProperties.%s looks like a credential: put it in the Secret named by kafka.auth.existingSecret instead" $k) }}
{{- end }}
{{- end }}
{{- if and .Values.trainer.cronJob.enabled .Values.trainer.serve.enabled }}
{{- fail "trainer.cronJob.enabled and trainer.serve.enabled are both true: both would refit into the same registry; enable one" }}
{{- end }}
{{- if not (has .Values.streamJob.upgradeMode (list "savepoint" "last-state" "stateless")) }}
{{- fail (printf "streamJob.upgradeMode must be savepoint, last-state or stateless, got %q" .Values.streamJob.upgradeMode) }}
{{- end }}
{{- if and (eq .Values.streamJob.upgradeMode "last-state") (not .Values.streamJob.highAvailability.enabled) }}
{{- fail "streamJob.upgradeMode last-state needs streamJob.highAvailability.enabled" }}
{{- end }}
{{- if lt (int .Values.streamJob.parallelism) 1 }}
{{- fail "streamJob.parallelism must be >= 1" }}
{{- end }}
{{- range $who, $src := dict "streamJob" .Values.streamJob.imageSources "trainer" .Values.trainer.imageSources }}
{{- range $src.urlPrefixes }}
{{- if not (or (hasPrefix "https://" .) (hasPrefix "http://" .)) }}
{{- fail (printf "%s.imageSources.urlPrefixes: %q must start with https:// or http://" $who .) }}
{{- end }}
{{- end }}
{{- range $src.fileRoots }}
{{- if not (hasPrefix "/" .) }}
{{- fail (printf "%s.imageSources.fileRoots: %q must be an absolute path" $who .) }}
{{- end }}
{{- end }}
{{- end }}
{{- if and .Values.gateway.enabled (not .Values.gateway.credentialsSecret) }}
{{- fail "gateway.enabled: set gateway.credentialsSecret to a Secret holding the Orthanc credentials file (no credentials in values)" }}
{{- end }}
{{- if and .Values.gateway.enabled (not (or (hasPrefix "https://" .Values.gateway.orthancUrl) (hasPrefix "http://" .Values.gateway.orthancUrl))) }}
{{- fail (printf "gateway.orthancUrl: %q must start with https:// or http://" .Values.gateway.orthancUrl) }}
{{- end }}
{{- end }}

{{/*
Volumes with the Kafka client configuration: the generated properties (ConfigMap) and, when set,
the credential and CA Secrets. Each Secret key is mounted under a fixed file name so that the
DirectoryConfigProvider references in client.properties never change.
*/}}
{{- define "xray-screening.kafkaVolumes" -}}
- name: kafka-client
  configMap:
    name: {{ include "xray-screening.kafkaConfigMapName" . }}
{{- with .Values.kafka.auth }}
{{- if .existingSecret }}
- name: kafka-auth
  secret:
    secretName: {{ .existingSecret }}
    defaultMode: 0440
    items:
      {{- if .jaasConfigKey }}
      - key: {{ .jaasConfigKey }}
        path: sasl.jaas.config
      {{- end }}
      {{- if .keystoreKey }}
      - key: {{ .keystoreKey }}
        path: keystore
      {{- end }}
      {{- if .keystorePasswordKey }}
      - key: {{ .keystorePasswordKey }}
        path: keystore.password
      {{- end }}
{{- end }}
{{- end }}
{{- with .Values.kafka.tls }}
{{- if .existingSecret }}
- name: kafka-tls
  secret:
    secretName: {{ .existingSecret }}
    defaultMode: 0440
    items:
      - key: {{ .truststoreKey }}
        path: truststore
      {{- if and .truststorePasswordKey (ne (upper .truststoreType) "PEM") }}
      - key: {{ .truststorePasswordKey }}
        path: truststore.password
      {{- end }}
{{- end }}
{{- end }}
{{- end }}

{{- define "xray-screening.kafkaVolumeMounts" -}}
- name: kafka-client
  mountPath: /etc/xray/kafka
  readOnly: true
{{- if .Values.kafka.auth.existingSecret }}
- name: kafka-auth
  mountPath: {{ include "xray-screening.kafkaAuthDir" . }}
  readOnly: true
{{- end }}
{{- if .Values.kafka.tls.existingSecret }}
- name: kafka-tls
  mountPath: {{ include "xray-screening.kafkaTlsDir" . }}
  readOnly: true
{{- end }}
{{- end }}

{{/*
Topic flags shared by the stream job (all seven topics).
*/}}
{{- define "xray-screening.topicArgs" -}}
- --topic-acquired
- {{ .Values.kafka.topics.acquired | quote }}
- --topic-recommendations
- {{ .Values.kafka.topics.recommendations | quote }}
- --topic-alerts
- {{ .Values.kafka.topics.alerts | quote }}
- --topic-dead-letter
- {{ .Values.kafka.topics.deadLetter | quote }}
- --topic-labelled
- {{ .Values.kafka.topics.labelled | quote }}
- --topic-model-updates
- {{ .Values.kafka.topics.modelUpdates | quote }}
- --topic-model-status
- {{ .Values.kafka.topics.modelStatus | quote }}
{{- end }}

{{/*
Claim-check allow-list flags (the same for the stream job and the trainer's serve command).
Usage: include "xray-screening.imageSourceArgs" .Values.streamJob.imageSources
*/}}
{{- define "xray-screening.imageSourceArgs" -}}
{{- range .fileRoots }}
- --allow-file-root
- {{ . | quote }}
{{- end }}
{{- range .urlPrefixes }}
- --allow-url-prefix
- {{ . | quote }}
{{- end }}
{{- if .allowPrivateAddresses }}
- --allow-private-addresses
{{- end }}
{{- end }}

{{/*
Trainer pod spec shared by the CronJob and the Deployment.
Usage: include "xray-screening.trainerPodSpec" (dict "ctx" $ "command" "refit" "extraArgs" list "restartPolicy" "OnFailure")
*/}}
{{- define "xray-screening.trainerPodSpec" -}}
{{- $ := .ctx }}
{{- $v := $.Values }}
{{- $gpuCount := int $v.gpu.trainerCount }}
{{- $gpu := and $v.gpu.enabled (gt $gpuCount 0) }}
serviceAccountName: {{ include "xray-screening.serviceAccountName" $ }}
# The trainer never calls the Kubernetes API (the account's rights are for Flink's JobManager).
automountServiceAccountToken: false
restartPolicy: {{ .restartPolicy }}
{{- with $v.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $v.trainer.podSecurityContext }}
securityContext:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- $nodeSelector := $v.trainer.nodeSelector }}
{{- if $gpu }}
{{- $nodeSelector = merge (deepCopy $v.trainer.nodeSelector) $v.gpu.nodeSelector }}
{{- end }}
{{- with $nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- $tolerations := $v.trainer.tolerations }}
{{- if $gpu }}
{{- $tolerations = concat $v.trainer.tolerations $v.gpu.tolerations }}
{{- end }}
{{- with $tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $v.trainer.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
containers:
  - name: trainer
    image: {{ include "xray-screening.image" (dict "image" $v.trainer.image "ctx" $) | quote }}
    imagePullPolicy: {{ $v.trainer.image.pullPolicy }}
    args:
      - {{ .command }}
      - --registry
      - {{ $v.registry.mountPath | quote }}
      - --store
      - {{ $v.trainingStore.mountPath | quote }}
      - --bootstrap-servers
      - {{ $v.kafka.bootstrapServers | quote }}
      - --kafka-properties
      - {{ include "xray-screening.kafkaPropertiesPath" $ }}
      {{- if eq .command "serve" }}
      - --schedule
      - {{ $v.trainer.schedule | quote }}
      {{- with include "xray-screening.imageSourceArgs" $v.trainer.imageSources }}
      {{- . | trim | nindent 6 }}
      {{- end }}
      {{- end }}
      {{- range .extraArgs }}
      - {{ . | quote }}
      {{- end }}
    env:
      - name: JAVA_OPTS
        value: {{ $v.trainer.javaOpts | quote }}
      - name: DJL_CACHE_DIR
        value: {{ $v.trainer.djlCacheDir | quote }}
      - name: DJL_OFFLINE
        value: "true"
      # the trainer image's entrypoint sources native-env.sh, which reads these
      - name: XRAY_ALLOCATOR
        value: {{ $v.nativeRuntime.allocator | quote }}
      - name: MALLOC_CONF
        value: {{ $v.nativeRuntime.mallocConf | quote }}
      {{- if $gpu }}
      - name: PYTORCH_FLAVOR
        value: {{ $v.gpu.pytorchFlavor | quote }}
      - name: PYTORCH_LIBRARY_PATH
        value: {{ $v.gpu.libtorchPath | quote }}
      {{- end }}
      {{- with $v.trainer.env }}
      {{- toYaml . | nindent 6 }}
      {{- end }}
    {{- with $v.trainer.envFrom }}
    envFrom:
      {{- toYaml . | nindent 6 }}
    {{- end }}
    resources:
      {{- $resources := deepCopy $v.trainer.resources }}
      {{- if $gpu }}
      {{- $limits := default (dict) $resources.limits }}
      {{- $_ := set $limits $v.gpu.resourceName $gpuCount }}
      {{- $_ := set $resources "limits" $limits }}
      {{- end }}
      {{- toYaml $resources | nindent 6 }}
    securityContext:
      allowPrivilegeEscalation: false
      capabilities:
        drop: ["ALL"]
    volumeMounts:
      - name: registry
        mountPath: {{ $v.registry.mountPath }}
      - name: training-store
        mountPath: {{ $v.trainingStore.mountPath }}
      - name: djl-cache
        mountPath: {{ $v.trainer.djlCacheDir }}
      {{- include "xray-screening.kafkaVolumeMounts" $ | nindent 6 }}
volumes:
  - name: registry
    persistentVolumeClaim:
      claimName: {{ include "xray-screening.registryClaimName" $ }}
  - name: training-store
    persistentVolumeClaim:
      claimName: {{ include "xray-screening.trainingStoreClaimName" $ }}
  - name: djl-cache
    emptyDir: {}
  {{- include "xray-screening.kafkaVolumes" $ | nindent 2 }}
{{- end }}

{{/*
Allocator environment of a Flink container (argument: .Values). Flink's image entrypoint preloads jemalloc
unless DISABLE_JEMALLOC is "true".
*/}}
{{- define "xray-screening.flinkAllocatorEnv" -}}
{{- if eq .nativeRuntime.allocator "jemalloc" -}}
- name: MALLOC_CONF
  value: {{ .nativeRuntime.mallocConf | quote }}
{{- else -}}
- name: DISABLE_JEMALLOC
  value: "true"
{{- end }}
{{- end }}
