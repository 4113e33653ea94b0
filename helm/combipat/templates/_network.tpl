{{/* One NetworkPolicy per service: in and out only what it needs. Args: ctx. */}}

{{- define "combipat.egressRules" -}}
{{- $ctx := .ctx }}
{{- $np := $ctx.root.Values.networkPolicy }}
{{- range $entry := .entries }}
{{- $rule := index $np.egress $entry }}
{{- if not $rule }}{{ fail (printf "networkPolicy.egress.%s is missing" $entry) }}{{ end }}
{{- /* An empty `to` would open the ports to every destination: leave the rule out instead. */}}
{{- if $rule.to }}
- to:
    {{- include "combipat.peers" (dict "ctx" $ctx "peers" $rule.to) | nindent 4 }}
  ports:
    {{- toYaml $rule.ports | nindent 4 }}
{{- end }}
{{- end }}
{{- end }}

{{- define "combipat.networkPolicy" }}
{{- $np := .root.Values.networkPolicy }}
{{- if $np.enabled }}
{{- $callers := include "combipat.callers" . | fromYamlArray }}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {{ .fullname }}
  labels:
    {{- include "combipat.labels" . | nindent 4 }}
spec:
  podSelector:
    matchLabels:
      {{- include "combipat.selectorLabels" . | nindent 6 }}
  policyTypes: [Ingress, Egress]
  ingress:
    {{- if $callers }}
    - from:
        - podSelector:
            matchLabels:
              app.kubernetes.io/name: {{ include "combipat.name" .root }}
              app.kubernetes.io/instance: {{ .root.Release.Name }}
            matchExpressions:
              - key: app.kubernetes.io/component
                operator: In
                values: {{ toJson $callers }}
      ports:
        - {port: grpc, protocol: TCP}
    {{- end }}
    {{- if and .svc.networkPolicy.allowFromIngress $np.ingressFrom }}
    - from:
        {{- include "combipat.peers" (dict "ctx" . "peers" $np.ingressFrom) | nindent 8 }}
      ports:
        - {port: grpc, protocol: TCP}
        - {port: http, protocol: TCP}
    {{- end }}
    {{- with $np.prometheusFrom }}
    - from:
        {{- include "combipat.peers" (dict "ctx" $ "peers" .) | nindent 8 }}
      ports:
        - {port: http, protocol: TCP}
    {{- end }}
    {{- with .svc.networkPolicy.extraIngress }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  egress:
    {{- $entries := concat (include "combipat.baseEgress" . | fromYamlArray) .traits.egress }}
    {{- include "combipat.egressRules" (dict "ctx" . "entries" $entries) | nindent 4 }}
    {{- range $called := .traits.calls }}
    {{- $calledSvc := index $.root.Values.services $called }}
    {{- if $calledSvc.enabled }}
    - to:
        - podSelector:
            matchLabels:
              {{- include "combipat.selectorLabels" (dict "root" $.root "name" $called) | nindent 14 }}
      ports:
        - {port: {{ $calledSvc.ports.grpc }}, protocol: TCP}
    {{- end }}
    {{- end }}
    {{- with .svc.networkPolicy.extraEgress }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
{{- end }}
{{- end }}
