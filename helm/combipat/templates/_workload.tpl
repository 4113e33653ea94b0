{{/* The objects a service runs as: service account, settings, secret, Service, Deployment. Args: ctx. */}}

{{- define "combipat.serviceAccount" }}
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ .fullname }}
  labels:
    {{- include "combipat.labels" . | nindent 4 }}
  {{- with .svc.serviceAccount.annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
# The services never call the Kubernetes API.
automountServiceAccountToken: false
{{- end }}

{{- define "combipat.configMap" }}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .fullname }}
  labels:
    {{- include "combipat.labels" . | nindent 4 }}
data:
  {{- include "combipat.settingsEnv" . | nindent 2 }}
{{- end }}

{{- define "combipat.secret" }}
{{- with include "combipat.ownSecretName" . }}
---
apiVersion: v1
kind: Secret
metadata:
  name: {{ . }}
  labels:
    {{- include "combipat.labels" $ | nindent 4 }}
type: Opaque
stringData:
  {{- include "combipat.envSecretValues" $.svc.secrets.values | nindent 2 }}
{{- end }}
{{- end }}

{{- define "combipat.k8sService" }}
---
apiVersion: v1
kind: Service
metadata:
  name: {{ .fullname }}
  labels:
    {{- include "combipat.labels" . | nindent 4 }}
spec:
  type: ClusterIP
  selector:
    {{- include "combipat.selectorLabels" . | nindent 4 }}
  ports:
    - name: grpc
      port: {{ .svc.ports.grpc }}
      targetPort: grpc
      appProtocol: kubernetes.io/h2c
    - name: http
      port: {{ .svc.ports.http }}
      targetPort: http
      appProtocol: http
{{- end }}

{{/*
A checksum of everything the pods read from the chart, so that a change rolls them (the topology
URL, which only the topology hook Job reads, left out).
*/}}
{{- define "combipat.configChecksum" -}}
{{- $key := include "combipat.topologyUrlKey" . }}
{{- $readable := list }}
{{- range $s := list .svc.secrets .root.Values.sharedSecrets }}
{{- $readable = append $readable (dict "existingSecret" $s.existingSecret "values" (omit $s.values $key) "keyRefs" (omit $s.keyRefs $key)) }}
{{- end }}
{{- $shared := dict "values" (index $readable 1) "anpr" .root.Values.anpr }}
{{- list (include "combipat.settingsEnv" .) (index $readable 0) $shared | toJson | sha256sum }}
{{- end }}

{{- define "combipat.topologySpread" -}}
{{- if .svc.topologySpreadConstraints }}
{{- toYaml .svc.topologySpreadConstraints }}
{{- else if .root.Values.topologySpread.default }}
{{- range $key := list "topology.kubernetes.io/zone" "kubernetes.io/hostname" }}
- maxSkew: 1
  topologyKey: {{ $key }}
  whenUnsatisfiable: ScheduleAnyway
  labelSelector:
    matchLabels:
      {{- include "combipat.selectorLabels" $ | nindent 6 }}
  matchLabelKeys: [pod-template-hash]
{{- end }}
{{- end }}
{{- end }}

{{- define "combipat.deployment" }}
{{- $v := .root.Values }}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .fullname }}
  labels:
    {{- include "combipat.labels" . | nindent 4 }}
spec:
  {{- if not .svc.autoscaling.enabled }}
  replicas: {{ .svc.replicas }}
  {{- end }}
  revisionHistoryLimit: 5
  selector:
    matchLabels:
      {{- include "combipat.selectorLabels" . | nindent 6 }}
  strategy:
    type: RollingUpdate
    rollingUpdate:
      # A new replica is ready before an old one stops, so consumers never all detach.
      maxUnavailable: 0
      maxSurge: 1
  template:
    metadata:
      labels:
        {{- include "combipat.labels" . | nindent 8 }}
        {{- with .svc.podLabels }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      annotations:
        checksum/config: {{ include "combipat.configChecksum" . }}
        {{- with .svc.podAnnotations }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
    spec:
      serviceAccountName: {{ .fullname }}
      automountServiceAccountToken: false
      enableServiceLinks: false
      terminationGracePeriodSeconds: {{ include "combipat.gracePeriod" .root }}
      {{- with $v.global.imagePullSecrets }}
      imagePullSecrets:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      securityContext:
        {{- include "combipat.podSecurityContext" . | nindent 8 }}
      containers:
        - name: {{ .name }}
          image: {{ include "combipat.image" . }}
          imagePullPolicy: {{ .svc.image.pullPolicy }}
          command: [{{ printf "combipat-%s" .name | quote }}, "serve"]
          ports:
            - name: grpc
              containerPort: {{ .svc.ports.grpc }}
              protocol: TCP
            - name: http
              containerPort: {{ .svc.ports.http }}
              protocol: TCP
          {{- include "combipat.envSources" (dict "ctx" . "configFrom" "configMap") | nindent 10 }}
          # Until the gRPC server reports the service's own API SERVING (grpc.health.v1), which
          # it does once the start (territory, database, broker) is done and the port is
          # bound: so liveness never judges a replica that is still starting, and a start
          # that binds the wrong API fails here. Not readiness: it stays SERVING until a stop.
          startupProbe:
            grpc:
              port: {{ .svc.ports.grpc }}
              service: {{ .traits.grpcService }}
            periodSeconds: 2
            failureThreshold: 60
          livenessProbe:
            httpGet: {path: /health/livez, port: http}
            periodSeconds: 10
            timeoutSeconds: 2
            failureThreshold: 3
          # readyz checks the database and that every consumer has attached to its queue.
          readinessProbe:
            httpGet: {path: /health/readyz, port: http}
            periodSeconds: 5
            timeoutSeconds: 3
            failureThreshold: 2
          resources:
            {{- toYaml .svc.resources | nindent 12 }}
          securityContext:
            {{- include "combipat.containerSecurityContext" . | nindent 12 }}
          volumeMounts:
            {{- include "combipat.volumeMounts" . | nindent 12 }}
      volumes:
        {{- include "combipat.volumes" . | nindent 8 }}
      {{- with include "combipat.topologySpread" . }}
      topologySpreadConstraints:
        {{- . | nindent 8 }}
      {{- end }}
      {{- with .svc.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with .svc.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with .svc.affinity }}
      affinity:
        {{- toYaml . | nindent 8 }}
      {{- end }}
{{- end }}

{{- define "combipat.podDisruptionBudget" }}
{{- if .svc.podDisruptionBudget.enabled }}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ .fullname }}
  labels:
    {{- include "combipat.labels" . | nindent 4 }}
spec:
  maxUnavailable: {{ .svc.podDisruptionBudget.maxUnavailable }}
  selector:
    matchLabels:
      {{- include "combipat.selectorLabels" . | nindent 6 }}
{{- end }}
{{- end }}
