{{/*
Shared templates. Each service's template file is one include of "combipat.service"; all the
resources of a service come from here, so the six stay alike by construction.
*/}}

{{/*
What the code of each service needs, which no operator should have to say: the gRPC service
its health reports, the services whose gRPC API it calls (both ends of each NetworkPolicy are
derived from this one list), the egress it needs beyond DNS, PostgreSQL, RabbitMQ, the OTLP
collector and the identity provider, whether it reads the ANPR files, and the secrets without
which it cannot start.
*/}}
{{- define "combipat.catalogue" -}}
intake:
  grpcService: combipat.intake.v1.Intake
  calls: [router, notifier]
  egress: [redis, objectStore]
  anpr: true
  attachments: true
  requiredSecrets: [COMBIPAT__DATABASE__URL, COMBIPAT__AMQP__URL, COMBIPAT__RATE_LIMIT__REDIS_URL]
router:
  grpcService: combipat.router.v1.Router
  calls: []
  egress: []
  anpr: true
  attachments: false
  requiredSecrets: [COMBIPAT__DATABASE__URL, COMBIPAT__AMQP__URL]
office-queue:
  grpcService: combipat.officequeue.v1.OfficeQueue
  calls: [router, notifier]
  egress: [redis, objectStore]
  anpr: false
  attachments: true
  requiredSecrets: [COMBIPAT__DATABASE__URL, COMBIPAT__AMQP__URL, COMBIPAT__RATE_LIMIT__REDIS_URL]
notifier:
  grpcService: combipat.notifier.v1.Notifier
  calls: [router]
  egress: [redis, webhooks, smtp, objectStore]
  anpr: false
  attachments: true
  requiredSecrets: [COMBIPAT__DATABASE__URL, COMBIPAT__AMQP__URL, COMBIPAT__RATE_LIMIT__REDIS_URL]
reminder-scheduler:
  grpcService: combipat.reminderscheduler.v1.ReminderScheduler
  calls: [router]
  egress: []
  anpr: false
  attachments: false
  requiredSecrets: [COMBIPAT__DATABASE__URL, COMBIPAT__AMQP__URL]
reporting:
  grpcService: combipat.reporting.v1.Reporting
  calls: [router]
  egress: []
  anpr: true
  attachments: false
  requiredSecrets: [COMBIPAT__DATABASE__URL, COMBIPAT__AMQP__URL]
{{- end }}

{{- define "combipat.baseEgress" -}}
[dns, postgresql, rabbitmq, otlp, identityProvider]
{{- end }}

{{- define "combipat.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "combipat.fullname" -}}
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

{{/* The name of a service's resources: "<fullname>-<service>". Args: root, name. */}}
{{- define "combipat.serviceName" -}}
{{- printf "%s-%s" (include "combipat.fullname" .root | trunc 40 | trimSuffix "-") .name | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "combipat.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels that select one service's pods. Args: root, name (the service), component. */}}
{{- define "combipat.selectorLabels" -}}
app.kubernetes.io/name: {{ include "combipat.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component | default .name }}
{{- end }}

{{- define "combipat.labels" -}}
{{ include "combipat.selectorLabels" . }}
app.kubernetes.io/part-of: combipat
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ include "combipat.chart" .root }}
{{- end }}

{{/* Labels of the chart's own objects that belong to no service (rules, dashboards). */}}
{{- define "combipat.chartLabels" -}}
app.kubernetes.io/name: {{ include "combipat.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/part-of: combipat
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ include "combipat.chart" . }}
{{- end }}

{{/* A setting's value as the binaries read it: lists comma separated, whole numbers without an exponent. */}}
{{- define "combipat.scalar" -}}
{{- if kindIs "slice" . }}
{{- $items := list }}
{{- range . }}{{ $items = append $items (include "combipat.scalar" .) }}{{ end }}
{{- join "," $items }}
{{- else if and (kindIs "float64" .) (eq (float64 (int64 .)) .) }}
{{- int64 . }}
{{- else }}
{{- toString . }}
{{- end }}
{{- end }}

{{/* "section.field" -> "COMBIPAT__SECTION__FIELD" */}}
{{- define "combipat.envName" -}}
{{- printf "COMBIPAT__%s" (. | replace "." "__" | upper) }}
{{- end }}

{{/* Settings that hold credentials: they belong in a Secret, never in a ConfigMap. */}}
{{- define "combipat.secretSettings" -}}
[database.url, amqp.url, amqp.topology_url, rate_limit.redis_url, smtp.password]
{{- end }}

{{/*
The secret key holding the AMQP URL of the broker user that may configure (combipat-topology),
which the topology hook Job connects with when broker.serviceUsers is on. No container ever
gets it under this name: a COMBIPAT__ variable the settings do not know (amqp.topology_url)
stops a binary at start, and the services must not hold the configure right. So the chart
never passes it as a keyRef, leaves it out of the Secrets it makes for envFrom, and gives it to
the topology Job only, as COMBIPAT__AMQP__URL.
*/}}
{{- define "combipat.topologyUrlKey" -}}
COMBIPAT__AMQP__TOPOLOGY_URL
{{- end }}

{{/*
The environment a service's ConfigMap carries, as a YAML map, from lowest to highest
precedence: what the chart derives, commonSettings, the service's settings. Args: ctx.
*/}}
{{- define "combipat.settingsEnv" -}}
{{- $root := .root }}
{{- $svc := .svc }}
{{- $name := .name }}
{{- $traits := .traits }}
{{- $v := $root.Values }}
{{- if not $v.auth.jwksUrl }}
{{- fail "auth.jwksUrl is required: the services verify bearer tokens with the identity provider's JWKS and have no default key" }}
{{- end }}
{{- if or (not $v.auth.issuer) (not $v.auth.audience) }}
{{- fail "auth.issuer and auth.audience are required with auth.jwksUrl: a token of the same identity provider issued for another application must not open these services" }}
{{- end }}
{{- $s := dict }}
{{- $_ := set $s "grpc.port" $svc.ports.grpc }}
{{- $_ = set $s "http.port" $svc.ports.http }}
{{- $_ = set $s "database.migrate_on_start" (not $svc.migrations.enabled) }}
{{- $_ = set $s "shutdown.drain_delay_ms" $v.shutdown.drainDelayMs }}
{{- $_ = set $s "shutdown.deadline_ms" $v.shutdown.deadlineMs }}
{{- $_ = set $s "telemetry.log_format" $v.telemetry.logFormat }}
{{- $_ = set $s "telemetry.log_filter" $v.telemetry.logFilter }}
{{- $_ = set $s "auth.jwks_url" $v.auth.jwksUrl }}
{{- $_ = set $s "auth.issuer" $v.auth.issuer }}
{{- $_ = set $s "auth.audience" $v.auth.audience }}
{{- if $v.broker.serviceUsers }}
{{- /* Their broker users may not configure: the topology hook Job creates it, they check it. */}}
{{- $_ = set $s "amqp.declare_topology" false }}
{{- end }}
{{- if $traits.anpr }}
{{- $_ = set $s "territory.comuni_path" (printf "%s/%s" $v.anpr.dir $v.anpr.comuniFile) }}
{{- $_ = set $s "territory.stati_esteri_path" (printf "%s/%s" $v.anpr.dir $v.anpr.statiEsteriFile) }}
{{- end }}
{{- if $traits.attachments }}
{{- if not $v.attachments.storeUrl }}
{{- fail (printf "attachments.storeUrl is required for %s: intake and office-queue share files through an object store (s3://bucket/prefix); a pod's own directory is not shared" $name) }}
{{- end }}
{{- $_ = set $s "attachments.store_url" $v.attachments.storeUrl }}
{{- end }}
{{- range $called := $traits.calls }}
{{- $calledSvc := index $v.services $called }}
{{- if $calledSvc.enabled }}
{{- $_ = set $s (printf "%s.endpoint" ($called | replace "-" "_")) (printf "http://%s:%v" (include "combipat.serviceName" (dict "root" $root "name" $called)) (include "combipat.scalar" $calledSvc.ports.grpc)) }}
{{- end }}
{{- end }}
{{- $forbidden := include "combipat.secretSettings" . | fromYamlArray }}
{{- range $source := list $v.commonSettings $svc.settings }}
{{- range $k, $val := $source }}
{{- if has $k $forbidden }}
{{- fail (printf "%s is a secret: give it in services.%s.secrets or sharedSecrets as %s, not in settings" $k $name (include "combipat.envName" $k)) }}
{{- end }}
{{- $_ = set $s $k $val }}
{{- end }}
{{- end }}
{{- $env := dict }}
{{- range $k, $val := $s }}
{{- $_ = set $env (include "combipat.envName" $k) (include "combipat.scalar" $val) }}
{{- end }}
{{- with $v.telemetry.otlpEndpoint }}
{{- $_ = set $env "OTEL_EXPORTER_OTLP_ENDPOINT" . }}
{{- end }}
{{- toYaml $env }}
{{- end }}

{{/*
What the chart's Secrets made from values carry (every container of the service reads them
whole): those values without the topology URL. Args: values.
*/}}
{{- define "combipat.envSecretValues" -}}
{{- toYaml (omit . (include "combipat.topologyUrlKey" .)) }}
{{- end }}

{{/* The Secret the chart makes from values: the service's, or "" when it has none. Args: ctx. */}}
{{- define "combipat.ownSecretName" -}}
{{- if include "combipat.envSecretValues" .svc.secrets.values | fromYaml }}{{ .fullname }}{{ end }}
{{- end }}

{{- define "combipat.sharedSecretName" -}}
{{- if include "combipat.envSecretValues" .Values.sharedSecrets.values | fromYaml }}{{ printf "%s-shared" (include "combipat.fullname" .) }}{{ end }}
{{- end }}

{{/*
Where a secret variable comes from, as {name, key}, or {} when only an existing Secret may hold
it. The precedence is the pod's: the service's keyRefs and values, then the shared ones, then
the existing Secrets. One from values also carries its `value`. With explicit, the existing
Secrets are not looked at (a key that must not reach the containers' environment cannot be in
a Secret they read whole). Args: ctx, key, explicit (optional).
*/}}
{{- define "combipat.secretRef" -}}
{{- $ctx := .ctx }}
{{- $key := .key }}
{{- $own := $ctx.svc.secrets }}
{{- $shared := $ctx.root.Values.sharedSecrets }}
{{- if hasKey $own.keyRefs $key }}
{{- toYaml (index $own.keyRefs $key) }}
{{- else if hasKey $own.values $key }}
{{- toYaml (dict "name" $ctx.fullname "key" $key "value" (index $own.values $key)) }}
{{- else if and $own.existingSecret (not .explicit) }}
{{- toYaml (dict "name" $own.existingSecret "key" $key) }}
{{- else if hasKey $shared.keyRefs $key }}
{{- toYaml (index $shared.keyRefs $key) }}
{{- else if hasKey $shared.values $key }}
{{- toYaml (dict "name" (printf "%s-shared" (include "combipat.fullname" $ctx.root)) "key" $key "value" (index $shared.values $key)) }}
{{- else if and $shared.existingSecret (not .explicit) }}
{{- toYaml (dict "name" $shared.existingSecret "key" $key) }}
{{- else }}
{{- toYaml dict }}
{{- end }}
{{- end }}

{{/*
Where the topology hook Job takes its COMBIPAT__AMQP__URL, as {name, key}: with
broker.serviceUsers, the topology URL (a keyRef as it is; one from values in the Job's own
hook Secret, "<fullname>-topology-hook"); without, {} (the service's own URL, as its pods
have it). Args: ctx.
*/}}
{{- define "combipat.topologyAmqpRef" -}}
{{- if .root.Values.broker.serviceUsers }}
{{- $ref := include "combipat.secretRef" (dict "ctx" . "key" (include "combipat.topologyUrlKey" .) "explicit" true) | fromYaml }}
{{- if hasKey $ref "value" }}
{{- toYaml (dict "name" (printf "%s-topology-hook" .fullname | trunc 63 | trimSuffix "-") "key" $ref.key) }}
{{- else }}
{{- toYaml $ref }}
{{- end }}
{{- else }}
{{- toYaml dict }}
{{- end }}
{{- end }}

{{/* Refuses to render a service that could not start: no default password is ever shipped. Args: ctx. */}}
{{- define "combipat.requireSecrets" -}}
{{- range $key := .traits.requiredSecrets }}
{{- $ref := include "combipat.secretRef" (dict "ctx" $ "key" $key) | fromYaml }}
{{- if not $ref }}
{{- fail (printf "services.%s needs the secret %s: set services.%s.secrets.values.%s, secrets.keyRefs.%s (a key of another Secret), secrets.existingSecret, or the same under sharedSecrets; the chart has no default password" $.name $key $.name $key $key) }}
{{- end }}
{{- end }}
{{- if and .root.Values.broker.serviceUsers (eq (include "combipat.topologyRunner" .root) .name) (not (include "combipat.topologyAmqpRef" . | fromYaml)) }}
{{- $key := include "combipat.topologyUrlKey" . }}
{{- fail (printf "services.%s runs the topology hook Job and, with broker.serviceUsers on, needs the secret %s, the AMQP URL of the broker user that may configure (combipat-topology, k8s/rabbitmq/users.yaml): set sharedSecrets.keyRefs.%s (a key of another Secret), sharedSecrets.values.%s, or the same under services.%s.secrets; not in an existingSecret, which every container reads whole (the services must neither hold it nor see it: their settings refuse amqp.topology_url); or turn broker.serviceUsers off" .name $key $key $key .name) }}
{{- end }}
{{- end }}

{{/*
The container's environment sources, shared by the Deployment and the hook Jobs. Args: ctx,
configFrom ("configMap" or "inline"), amqpUrlRef (optional, {name, key}: COMBIPAT__AMQP__URL
from there, over the envFrom Secrets' and instead of a keyRef's).
*/}}
{{- define "combipat.envSources" -}}
{{- $ctx := .ctx }}
{{- $v := $ctx.root.Values }}
{{- $skip := list (include "combipat.topologyUrlKey" .) }}
{{- if .amqpUrlRef }}
{{- $skip = append $skip "COMBIPAT__AMQP__URL" }}
{{- end }}
env:
  - name: POD_NAME
    valueFrom: {fieldRef: {fieldPath: metadata.name}}
  - name: POD_NAMESPACE
    valueFrom: {fieldRef: {fieldPath: metadata.namespace}}
  - name: OTEL_RESOURCE_ATTRIBUTES
    value: "k8s.namespace.name=$(POD_NAMESPACE),k8s.pod.name=$(POD_NAME),service.namespace=combipat"
{{- if eq .configFrom "inline" }}
{{- range $k, $val := include "combipat.settingsEnv" $ctx | fromYaml }}
  - name: {{ $k }}
    value: {{ $val | quote }}
{{- end }}
{{- end }}
{{- range $source := list $v.sharedSecrets.keyRefs $ctx.svc.secrets.keyRefs }}
{{- range $k, $ref := $source }}
{{- if not (has $k $skip) }}
  - name: {{ $k }}
    valueFrom:
      secretKeyRef:
        name: {{ $ref.name }}
        key: {{ $ref.key }}
{{- end }}
{{- end }}
{{- end }}
{{- with .amqpUrlRef }}
  - name: COMBIPAT__AMQP__URL
    valueFrom:
      secretKeyRef:
        name: {{ .name }}
        key: {{ .key }}
{{- end }}
{{- with $v.commonEnv }}
{{ toYaml . | indent 2 }}
{{- end }}
{{- with $ctx.svc.env }}
{{ toYaml . | indent 2 }}
{{- end }}
envFrom:
{{- if eq .configFrom "configMap" }}
  - configMapRef:
      name: {{ $ctx.fullname }}
{{- end }}
{{- with $v.sharedSecrets.existingSecret }}
  - secretRef:
      name: {{ . }}
{{- end }}
{{- with include "combipat.sharedSecretName" $ctx.root }}
  - secretRef:
      name: {{ . }}{{ if eq $.configFrom "inline" }}-hook{{ end }}
{{- end }}
{{- with $ctx.svc.secrets.existingSecret }}
  - secretRef:
      name: {{ . }}
{{- end }}
{{- with include "combipat.ownSecretName" $ctx }}
  - secretRef:
      name: {{ . }}{{ if eq $.configFrom "inline" }}-hook{{ end }}
{{- end }}
{{- end }}

{{/* The restricted Pod Security Standard, for the pods and the hook Jobs alike. */}}
{{- define "combipat.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
fsGroup: 65532
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{- define "combipat.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{- define "combipat.image" -}}
{{- $img := .svc.image }}
{{- $repo := $img.repository }}
{{- with .root.Values.global.imageRegistry }}{{ $repo = printf "%s/%s" (trimSuffix "/" .) $repo }}{{ end }}
{{- if $img.digest }}
{{- printf "%s@%s" $repo $img.digest }}
{{- else }}
{{- printf "%s:%s" $repo ($img.tag | default .root.Chart.AppVersion) }}
{{- end }}
{{- end }}

{{/* Volumes every pod of the chart has: a writable /tmp on a read-only root, and the ANPR override. Args: ctx. */}}
{{- define "combipat.volumes" -}}
- name: tmp
  emptyDir:
    sizeLimit: 64Mi
{{- if and .traits.anpr .root.Values.anpr.volume }}
- name: anpr
{{ toYaml .root.Values.anpr.volume | indent 2 }}
{{- end }}
{{- end }}

{{- define "combipat.volumeMounts" -}}
- name: tmp
  mountPath: /tmp
{{- if and .traits.anpr .root.Values.anpr.volume }}
- name: anpr
  mountPath: {{ .root.Values.anpr.dir }}
  readOnly: true
{{- end }}
{{- end }}

{{/* Seconds the kubelet waits after SIGTERM: the drain delay and the deadline, plus a margin. */}}
{{- define "combipat.gracePeriod" -}}
{{- $s := .Values.shutdown }}
{{- add (div (add $s.drainDelayMs $s.deadlineMs 999) 1000) $s.graceMarginSeconds }}
{{- end }}

{{/* Renders a NetworkPolicy peer list, with {{ .service }} available to the values. Args: ctx, peers. */}}
{{- define "combipat.peers" -}}
{{- tpl (toYaml .peers) (dict "service" .ctx.name "Release" .ctx.root.Release "Template" .ctx.root.Template) }}
{{- end }}

{{/* The callers of a service, from the catalogue. Args: root, name. */}}
{{- define "combipat.callers" -}}
{{- $callers := list }}
{{- range $caller, $t := include "combipat.catalogue" . | fromYaml }}
{{- if and (has $.name $t.calls) (index $.root.Values.services $caller).enabled }}
{{- $callers = append $callers $caller }}
{{- end }}
{{- end }}
{{- toYaml $callers }}
{{- end }}

{{/*
The service whose image runs the topology Job: the first, in the catalogue's order, that is
enabled with topology.enabled. `combipat-<service> topology` declares the whole messaging
topology, every service's queues included, so one run per release is enough; six would
declare the same objects six times.
*/}}
{{- define "combipat.topologyRunner" -}}
{{- $runner := "" }}
{{- range $name := list "intake" "router" "office-queue" "notifier" "reminder-scheduler" "reporting" }}
{{- $svc := index $.Values.services $name }}
{{- if and (not $runner) $svc.enabled $svc.topology.enabled }}{{ $runner = $name }}{{ end }}
{{- end }}
{{- $runner }}
{{- end }}

{{/*
Everything one service is made of. Args: root, name. The values block and the catalogue entry
are looked up once here, and every part gets the same context.
*/}}
{{- define "combipat.service" -}}
{{- $svc := index .root.Values.services .name }}
{{- $traits := index (include "combipat.catalogue" . | fromYaml) .name }}
{{- if not $traits }}{{ fail (printf "combipat.service: %s is not in the catalogue of _helpers.tpl" .name) }}{{ end }}
{{- if $svc.enabled }}
{{- $ctx := dict "root" .root "name" .name "svc" $svc "traits" $traits "fullname" (include "combipat.serviceName" .) }}
{{- include "combipat.requireSecrets" $ctx }}
{{- include "combipat.serviceAccount" $ctx }}
{{- include "combipat.configMap" $ctx }}
{{- include "combipat.secret" $ctx }}
{{- include "combipat.k8sService" $ctx }}
{{- include "combipat.deployment" $ctx }}
{{- include "combipat.podDisruptionBudget" $ctx }}
{{- include "combipat.autoscaling" $ctx }}
{{- include "combipat.networkPolicy" $ctx }}
{{- include "combipat.hooks" $ctx }}
{{- end }}
{{- end }}
