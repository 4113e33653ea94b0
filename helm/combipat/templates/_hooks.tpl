{{/*
Migrations and the messaging topology as pre-install/pre-upgrade hook Jobs run by the
service's own image. Hooks run before the release's own objects exist, so whatever a Job reads
from the chart is itself a hook: its settings are inline, the chart-made Secret has a hook copy
(`<name>-hook`), and a hook NetworkPolicy lets the Jobs reach DNS, PostgreSQL and RabbitMQ in a
namespace that denies by default. These copies are kept until the next hook run
(before-hook-creation), since a Job must find them whenever its pod starts. With
broker.serviceUsers the topology Job connects as the broker user that may configure: its
COMBIPAT__AMQP__URL is the secret COMBIPAT__AMQP__TOPOLOGY_URL (given in values, it is in a hook
Secret of its own, `<name>-topology-hook`, which only that Job reads). Args: ctx.
*/}}

{{- define "combipat.hookAnnotations" -}}
helm.sh/hook: pre-install,pre-upgrade
helm.sh/hook-weight: {{ .weight | quote }}
helm.sh/hook-delete-policy: before-hook-creation
{{- end }}

{{- define "combipat.hookJob" }}
{{- $ctx := .ctx }}
{{- $h := $ctx.root.Values.hooks }}
---
apiVersion: batch/v1
kind: Job
metadata:
  name: {{ printf "%s-%s" $ctx.fullname .command | trunc 63 | trimSuffix "-" }}
  labels:
    {{- include "combipat.labels" (dict "root" $ctx.root "name" $ctx.name "component" (printf "%s-hook" $ctx.name)) | nindent 4 }}
  annotations:
    {{- include "combipat.hookAnnotations" (dict "weight" .weight) | nindent 4 }}
spec:
  backoffLimit: {{ $h.backoffLimit }}
  activeDeadlineSeconds: {{ $h.activeDeadlineSeconds }}
  ttlSecondsAfterFinished: {{ $h.ttlSecondsAfterFinished }}
  template:
    metadata:
      labels:
        {{- include "combipat.labels" (dict "root" $ctx.root "name" $ctx.name "component" (printf "%s-hook" $ctx.name)) | nindent 8 }}
        combipat.io/hook: {{ .command }}
    spec:
      restartPolicy: Never
      automountServiceAccountToken: false
      enableServiceLinks: false
      {{- with $ctx.root.Values.global.imagePullSecrets }}
      imagePullSecrets:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      securityContext:
        {{- include "combipat.podSecurityContext" $ctx | nindent 8 }}
      containers:
        - name: {{ .command }}
          image: {{ include "combipat.image" $ctx }}
          imagePullPolicy: {{ $ctx.svc.image.pullPolicy }}
          command: [{{ printf "combipat-%s" $ctx.name | quote }}, {{ .command | quote }}]
          {{- include "combipat.envSources" (dict "ctx" $ctx "configFrom" "inline" "amqpUrlRef" .amqpUrlRef) | nindent 10 }}
          resources:
            {{- toYaml $h.resources | nindent 12 }}
          securityContext:
            {{- include "combipat.containerSecurityContext" $ctx | nindent 12 }}
          volumeMounts:
            {{- include "combipat.volumeMounts" $ctx | nindent 12 }}
      volumes:
        {{- include "combipat.volumes" $ctx | nindent 8 }}
      {{- with $ctx.svc.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $ctx.svc.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
{{- end }}

{{- define "combipat.hooks" }}
{{- $topology := eq (include "combipat.topologyRunner" .root) .name }}
{{- if or .svc.migrations.enabled $topology }}
{{- with include "combipat.ownSecretName" . }}
---
apiVersion: v1
kind: Secret
metadata:
  name: {{ . }}-hook
  labels:
    {{- include "combipat.labels" (dict "root" $.root "name" $.name "component" (printf "%s-hook" $.name)) | nindent 4 }}
  annotations:
    {{- include "combipat.hookAnnotations" (dict "weight" -20) | nindent 4 }}
type: Opaque
stringData:
  {{- include "combipat.envSecretValues" $.svc.secrets.values | nindent 2 }}
{{- end }}
{{- if .root.Values.networkPolicy.enabled }}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {{ .fullname }}-hook
  labels:
    {{- include "combipat.labels" (dict "root" .root "name" .name "component" (printf "%s-hook" .name)) | nindent 4 }}
  annotations:
    {{- include "combipat.hookAnnotations" (dict "weight" -20) | nindent 4 }}
spec:
  podSelector:
    matchLabels:
      {{- include "combipat.selectorLabels" (dict "root" .root "name" .name "component" (printf "%s-hook" .name)) | nindent 6 }}
  policyTypes: [Ingress, Egress]
  ingress: []
  egress:
    {{- include "combipat.egressRules" (dict "ctx" . "entries" (include "combipat.baseEgress" . | fromYamlArray)) | nindent 4 }}
{{- end }}
{{- if .svc.migrations.enabled }}
{{- include "combipat.hookJob" (dict "ctx" . "command" "migrate" "weight" -10) }}
{{- end }}
{{- if $topology }}
{{- $amqp := include "combipat.topologyAmqpRef" . | fromYaml }}
{{- $url := include "combipat.secretRef" (dict "ctx" . "key" (include "combipat.topologyUrlKey" .) "explicit" true) | fromYaml }}
{{- if and $amqp (hasKey $url "value") }}
---
apiVersion: v1
kind: Secret
metadata:
  name: {{ $amqp.name }}
  labels:
    {{- include "combipat.labels" (dict "root" .root "name" .name "component" (printf "%s-hook" .name)) | nindent 4 }}
  annotations:
    {{- include "combipat.hookAnnotations" (dict "weight" -20) | nindent 4 }}
type: Opaque
stringData:
  {{- toYaml (dict $amqp.key $url.value) | nindent 2 }}
{{- end }}
{{- include "combipat.hookJob" (dict "ctx" . "command" "topology" "weight" -5 "amqpUrlRef" $amqp) }}
{{- end }}
{{- end }}
{{- end }}
