package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/cli/values"
)

// lintRequest is one `helm lint [--strict] CHART --kube-version V --values F...` call.
// A request line is a lint when its "op" is "lint" (main.go dispatches on it).
type lintRequest struct {
	ID          int64    `json:"id"`
	Chart       string   `json:"chart"`
	KubeVersion string   `json:"kube_version"` // --kube-version
	Strict      bool     `json:"strict"`       // --strict
	ValuesFiles []string `json:"values_files"` // --values, in order
}

// lint answers as the helm CLI would: its stdout, and on failure its stderr ("Error: ...").
func (r *renderer) lint(line []byte) response {
	var req lintRequest
	if err := json.Unmarshal(line, &req); err != nil {
		return response{OK: false, Stderr: "Error: chartest-render: bad request: " + err.Error() + "\n"}
	}
	var stderr bytes.Buffer
	defer logs.collect(&stderr)() // helm's warnings, as the CLI prints them
	out, err := r.lintChart(&req)
	if err != nil {
		fmt.Fprintf(&stderr, "Error: %s\n", err.Error()) // what cobra prints for helm
		return response{OK: false, Stdout: out, Stderr: stderr.String()}
	}
	return response{OK: true, Stdout: out, Stderr: stderr.String()}
}

// lintChart is cmd/helm/lint.go's RunE for one chart path without --with-subcharts or --quiet.
func (r *renderer) lintChart(req *lintRequest) (string, error) {
	client := action.NewLint()
	client.Strict = req.Strict
	if req.KubeVersion != "" {
		kv, err := chartutil.ParseKubeVersion(req.KubeVersion)
		if err != nil {
			return "", fmt.Errorf("invalid kube version '%s': %s", req.KubeVersion, err)
		}
		client.KubeVersion = kv
	}
	client.Namespace = r.settings.Namespace()
	opts := values.Options{ValueFiles: append([]string{}, req.ValuesFiles...)}
	vals, err := opts.MergeValues(r.providers)
	if err != nil {
		return "", err
	}
	var message strings.Builder
	failed := 0
	result := client.Run([]string{req.Chart}, vals)
	fmt.Fprintf(&message, "==> Linting %s\n", req.Chart)
	if len(result.Messages) == 0 {
		for _, err := range result.Errors {
			fmt.Fprintf(&message, "Error %s\n", err)
		}
	}
	for _, msg := range result.Messages {
		fmt.Fprintf(&message, "%s\n", msg)
	}
	if len(result.Errors) != 0 {
		failed++
	}
	fmt.Fprint(&message, "\n")
	summary := fmt.Sprintf("1 chart(s) linted, %d chart(s) failed", failed)
	if failed > 0 {
		return message.String(), errors.New(summary)
	}
	return message.String() + summary + "\n", nil
}
