#!/bin/sh
# Writes prometheusrule.yaml (beside this script): the PrometheusRule of the
# prometheus-operator wrapping the rule groups of
# ../prometheus/tcpkawatch-rules.yml, the one source of the rules (promtool
# checks and tests that file). Run it after changing the rules; the tests
# (tests/e2e/test_deploy.py) fail while the two differ. An argument: write
# there instead.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/prometheusrule.yaml}
{
	cat <<'HEAD'
# Made by gen-prometheusrule.sh from ../prometheus/tcpkawatch-rules.yml:
# edit that file, then run the script. The alerts and why their thresholds
# are what they are: see the comments there.
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata:
  name: tcpkawatch
  namespace: tcpkawatch
  labels:
    app.kubernetes.io/name: tcpkawatch
    # the label a kube-prometheus Prometheus selects rules by
    # (ruleSelector); change it to your Prometheus' own
    release: prometheus
spec:
HEAD
	# the rule file's groups, comments and all, two spaces in
	sed -e '/^#/d' -e 's/^\(.\)/  \1/' "$here/../prometheus/tcpkawatch-rules.yml"
} > "$out"
