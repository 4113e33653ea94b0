{{/* An HPA on CPU, or a KEDA ScaledObject on queue depth and CPU (KEDA makes its own HPA, so never both). Args: ctx. */}}

{{- define "combipat.autoscaling" }}
{{- $as := .svc.autoscaling }}
{{- if and $as.enabled (not $as.keda.enabled) }}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {{ .fullname }}
  labels:
    {{- include "combipat.labels" . | nindent 4 }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {{ .fullname }}
  minReplicas: {{ $as.minReplicas }}
  maxReplicas: {{ $as.maxReplicas }}
  metrics:
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: {{ $as.targetCPUUtilizationPercentage }}
{{- else if and $as.enabled $as.keda.enabled }}
{{- if not $as.keda.queues }}
{{- fail (printf "services.%s.autoscaling.keda.queues is empty: name the queues whose depth scales %s" .name .name) }}
{{- end }}
{{- $amqp := include "combipat.secretRef" (dict "ctx" . "key" "COMBIPAT__AMQP__URL") | fromYaml }}
{{- /* Queues carry amqp.queue_prefix, as the binaries declare them. */}}
{{- $prefix := "" }}
{{- range $source := list .root.Values.commonSettings .svc.settings }}
{{- if hasKey $source "amqp.queue_prefix" }}{{ $prefix = index $source "amqp.queue_prefix" }}{{ end }}
{{- end }}
---
apiVersion: keda.sh/v1alpha1
kind: TriggerAuthentication
metadata:
  name: {{ .fullname }}
  labels:
    {{- include "combipat.labels" . | nindent 4 }}
spec:
  # The scaler reads the same AMQP URL as the service (one node's URL: KEDA takes no list).
  secretTargetRef:
    - parameter: host
      name: {{ $amqp.name }}
      key: {{ $amqp.key }}
---
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata:
  name: {{ .fullname }}
  labels:
    {{- include "combipat.labels" . | nindent 4 }}
spec:
  scaleTargetRef:
    name: {{ .fullname }}
  minReplicaCount: {{ $as.minReplicas }}
  maxReplicaCount: {{ $as.maxReplicas }}
  pollingInterval: {{ $as.keda.pollingInterval }}
  cooldownPeriod: {{ $as.keda.cooldownPeriod }}
  triggers:
    {{- range $queue := $as.keda.queues }}
    - type: rabbitmq
      metadata:
        protocol: amqp
        mode: QueueLength
        queueName: {{ printf "%s%s" $prefix $queue | quote }}
        value: {{ $as.keda.messagesPerReplica | quote }}
      authenticationRef:
        name: {{ $.fullname }}
    {{- end }}
    - type: cpu
      metricType: Utilization
      metadata:
        value: {{ $as.targetCPUUtilizationPercentage | quote }}
{{- end }}
{{- end }}
