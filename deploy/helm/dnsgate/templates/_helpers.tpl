{{- define "dnsgate.container" -}}
- name: dnsgate
  image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"
  imagePullPolicy: {{ .Values.image.pullPolicy }}
  args: ["serve", "--config", "/etc/dnsgate/dnsgate.yaml"]
  ports:
    - name: dns-udp
      containerPort: {{ .Values.dnsPort }}
      protocol: UDP
    - name: dns-tcp
      containerPort: {{ .Values.dnsPort }}
      protocol: TCP
    - name: admin
      containerPort: {{ .Values.adminPort }}
      protocol: TCP
  livenessProbe:
    httpGet:
      path: /healthz
      port: admin
    periodSeconds: 10
  readinessProbe:
    httpGet:
      path: /readyz
      port: admin
    periodSeconds: 5
    timeoutSeconds: 3
  securityContext:
    runAsNonRoot: true
    runAsUser: 65532
    allowPrivilegeEscalation: false
    readOnlyRootFilesystem: true
    capabilities:
      drop: ["ALL"]
      add: ["NET_BIND_SERVICE"]
  resources:
    {{- toYaml .Values.resources | nindent 4 }}
  volumeMounts:
    - name: config
      mountPath: /etc/dnsgate
      readOnly: true
    - name: admin-token
      mountPath: /run/secrets/dnsgate
      readOnly: true
{{- end }}
{{- define "dnsgate.volumes" -}}
- name: config
  configMap:
    name: {{ .Release.Name }}-config
    items:
      - key: dnsgate.yaml
        path: dnsgate.yaml
- name: admin-token
  secret:
    {{- if .Values.adminToken.value }}
    secretName: {{ .Release.Name }}-admin-token
    {{- else }}
    secretName: {{ .Values.adminToken.existingSecret }}
    {{- end }}
{{- end }}
