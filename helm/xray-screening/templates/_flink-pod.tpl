{{/*
Pod template of one Flink role (jobmanager or taskmanager) of the FlinkDeployment.

Each role gets a complete template instead of a shared spec.podTemplate plus a per-role one: the
operator merges those two by list index, which would let one role's env entries overwrite the
other's. Flink itself then sets cpu/memory of the main container (from the spec's resource
section) and adds its own ports, env and config volume; everything else here is kept, including the
GPU limit.

Usage: include "xray-screening.flinkPodTemplate" (dict "ctx" $ "role" "taskmanager")
*/}}
{{- define "xray-screening.flinkPodTemplate" -}}
{{- $ := .ctx }}
{{- $v := $.Values }}
{{- $sj := $v.streamJob }}
{{- $isTm := eq .role "taskmanager" }}
{{- $gpu := and $isTm $v.gpu.enabled }}
{{- $scheduling := $sj.jobManagerScheduling }}
{{- if $isTm }}
{{- $scheduling = dict "nodeSelector" $sj.taskManager.nodeSelector "tolerations" $sj.taskManager.tolerations "affinity" $sj.taskManager.affinity }}
{{- end }}
{{- $nodeSelector := default (dict) $scheduling.nodeSelector }}
{{- $tolerations := default (list) $scheduling.tolerations }}
{{- if $gpu }}
{{- $nodeSelector = merge (deepCopy $nodeSelector) $v.gpu.nodeSelector }}
{{- $tolerations = concat $tolerations $v.gpu.tolerations }}
{{- end }}
apiVersion: v1
kind: Pod
metadata:
  labels:
    {{- include "xray-screening.componentSelectorLabels" (dict "ctx" $ "component" "stream-job") | nindent 4 }}
    app.kubernetes.io/part-of: xray-screening
    xray-screening.io/flink-role: {{ .role }}
    {{- with $sj.podLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  annotations:
    checksum/kafka-client: {{ include (print $.Template.BasePath "/configmaps.yaml") $ | sha256sum }}
    {{- with $sj.podAnnotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  {{- with $v.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $sj.podSecurityContext }}
  securityContext:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $scheduling.affinity }}
  affinity:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  containers:
    # Flink requires this name for the main container.
    - name: flink-main-container
      ports:
        # The job's Prometheus endpoint (--metrics-port, path /metrics).
        - name: metrics
          containerPort: {{ int $sj.metricsPort }}
          protocol: TCP
        {{- if $sj.flinkMetrics.enabled }}
        # Flink's own Prometheus reporter (metrics.reporter.prom.port).
        - name: flink-metrics
          containerPort: {{ int $sj.flinkMetrics.port }}
          protocol: TCP
        {{- end }}
      env:
        - name: DJL_CACHE_DIR
          value: {{ $sj.djlCacheDir | quote }}
        - name: DJL_OFFLINE
          value: "true"
        {{- include "xray-screening.flinkAllocatorEnv" $v | nindent 8 }}
        {{- if $isTm }}
        - name: OMP_NUM_THREADS
          value: {{ int $sj.taskManager.ompNumThreads | quote }}
        {{- end }}
        {{- if $gpu }}
        # DJL loads the CUDA libtorch the GPU image carries (docker build --build-arg TORCH_FLAVOR=cu128).
        - name: PYTORCH_FLAVOR
          value: {{ $v.gpu.pytorchFlavor | quote }}
        - name: PYTORCH_LIBRARY_PATH
          value: {{ $v.gpu.libtorchPath | quote }}
        {{- end }}
        {{- with $sj.env }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      {{- with $sj.envFrom }}
      envFrom:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- if $gpu }}
      resources:
        limits:
          {{ $v.gpu.resourceName }}: {{ int $v.gpu.count }}
      {{- end }}
      securityContext:
        allowPrivilegeEscalation: false
        capabilities:
          drop: ["ALL"]
      volumeMounts:
        - name: registry
          mountPath: {{ $v.registry.mountPath }}
          readOnly: true
        - name: djl-cache
          mountPath: {{ $sj.djlCacheDir }}
        {{- if or $sj.state.persistence.create $sj.state.persistence.existingClaim }}
        - name: flink-state
          mountPath: {{ $sj.state.persistence.mountPath }}
        {{- end }}
        {{- if $sj.config }}
        - name: job-config
          mountPath: /etc/xray/job
          readOnly: true
        {{- end }}
        {{- if $sj.imageSources.credentialsSecret }}
        - name: url-credentials
          mountPath: /etc/xray/url-credentials
          readOnly: true
        {{- end }}
        {{- include "xray-screening.kafkaVolumeMounts" $ | nindent 8 }}
        {{- with $sj.extraVolumeMounts }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
  volumes:
    - name: registry
      persistentVolumeClaim:
        claimName: {{ include "xray-screening.registryClaimName" $ }}
        readOnly: true
    - name: djl-cache
      emptyDir: {}
    {{- if or $sj.state.persistence.create $sj.state.persistence.existingClaim }}
    - name: flink-state
      persistentVolumeClaim:
        claimName: {{ include "xray-screening.flinkStateClaimName" $ }}
    {{- end }}
    {{- if $sj.config }}
    - name: job-config
      configMap:
        name: {{ include "xray-screening.jobConfigMapName" $ }}
    {{- end }}
    {{- if $sj.imageSources.credentialsSecret }}
    - name: url-credentials
      secret:
        secretName: {{ $sj.imageSources.credentialsSecret }}
        defaultMode: 0440
        items:
          - key: url-credentials
            path: credentials
    {{- end }}
    {{- include "xray-screening.kafkaVolumes" $ | nindent 4 }}
    {{- with $sj.extraVolumes }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
{{- end }}
