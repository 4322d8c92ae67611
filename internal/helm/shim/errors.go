package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"helm.sh/helm/v4/pkg/storage/driver"
)

// errorCodes lists every code a response can carry, in the order declared;
// the schema op reports it so the binding can check it maps each one.
var errorCodes []string

// errorCode declares a code: every code is declared through it, so the list
// above is complete by construction.
func errorCode(name string) string {
	errorCodes = append(errorCodes, name)
	return name
}

// Error codes. The Python binding maps each to an exception class.
var (
	CodeInvalidRequest   = errorCode("InvalidRequest")
	CodeChartLoad        = errorCode("ChartLoad")
	CodePostRender       = errorCode("PostRender")
	CodeRender           = errorCode("RenderFailed")
	CodeValidation       = errorCode("Validation")
	CodeClusterAccess    = errorCode("ClusterAccess")
	CodeForbidden        = errorCode("Forbidden")
	CodeConflict         = errorCode("Conflict")
	CodeReleaseNotFound  = errorCode("ReleaseNotFound")
	CodeReleaseExists    = errorCode("ReleaseExists")
	CodePendingOperation = errorCode("PendingOperation")
	CodeHookFailed       = errorCode("HookFailed")
	CodeTimeout          = errorCode("Timeout")
	CodeCancelled        = errorCode("Cancelled")
	CodeActionFailed     = errorCode("ActionFailed")
	CodeInternal         = errorCode("Internal")
)

// shimError is an error whose code (and, for bad input, field) is known where
// it is raised. It survives Helm's %w wrapping, so classify finds it.
type shimError struct {
	code  string
	field string
	err   error
}

func (e *shimError) Error() string {
	if e.field != "" {
		return e.field + ": " + e.err.Error()
	}
	return e.err.Error()
}

func (e *shimError) Unwrap() error { return e.err }

func fieldErr(code, field, format string, args ...any) error {
	return &shimError{code: code, field: field, err: fmt.Errorf(format, args...)}
}

func invalid(field, format string, args ...any) error {
	return fieldErr(CodeInvalidRequest, field, format, args...)
}

// wrapField gives an existing error a code and a field.
func wrapField(code, field string, err error) error {
	return &shimError{code: code, field: field, err: err}
}

// classify turns any error from a call into its wire form. cancelled says
// whether the caller cancelled the call, which wins over what Helm reports.
func classify(err error, cancelled bool) *WireError {
	we := &WireError{Code: CodeActionFailed, Message: err.Error()}
	var se *shimError
	if errors.As(err, &se) {
		we.Code, we.Field = se.code, se.field
		// Helm's own context around a post-render error is worth keeping.
		return we
	}
	msg := err.Error()
	var status apierrors.APIStatus
	switch {
	case cancelled || errors.Is(err, context.Canceled):
		we.Code = CodeCancelled
	case errors.Is(err, context.DeadlineExceeded) || strings.Contains(msg, "context deadline exceeded") ||
		strings.Contains(msg, "timed out waiting"):
		we.Code = CodeTimeout
	case strings.Contains(msg, "another operation (install/upgrade/rollback) is in progress"):
		we.Code = CodePendingOperation
	case errors.Is(err, driver.ErrReleaseExists) || strings.Contains(msg, "cannot reuse a name that is still in use"):
		we.Code = CodeReleaseExists
	case errors.Is(err, driver.ErrReleaseNotFound) || errors.Is(err, driver.ErrNoDeployedReleases):
		we.Code = CodeReleaseNotFound
	case isHookFailure(msg):
		we.Code = CodeHookFailed
	case errors.As(err, &status) && (apierrors.IsForbidden(err) || apierrors.IsUnauthorized(err)):
		we.Code = CodeForbidden
	case strings.Contains(msg, " is forbidden: "):
		we.Code = CodeForbidden
	case apierrors.IsConflict(err) || strings.Contains(msg, "conflict occurred while applying"):
		we.Code = CodeConflict
	case strings.Contains(msg, "cluster reachability check failed") ||
		strings.Contains(msg, "kubernetes cluster unreachable"):
		we.Code = CodeClusterAccess
	case strings.Contains(msg, "values don't meet the specifications of the schema") ||
		strings.Contains(msg, "chart requires kubeVersion") ||
		strings.Contains(msg, "unable to build kubernetes objects") ||
		strings.Contains(msg, "error validating data") ||
		strings.Contains(msg, "user supplied labels contains system reserved label"):
		we.Code = CodeValidation
	case strings.Contains(msg, "error while running post render") ||
		strings.Contains(msg, "error while parsing post rendered output"):
		we.Code = CodePostRender
	case strings.HasPrefix(msg, "template: ") || strings.Contains(msg, "parse error at") ||
		strings.Contains(msg, "YAML parse error") || strings.Contains(msg, "failed to render"):
		we.Code = CodeRender
	}
	return we
}

func isHookFailure(msg string) bool {
	for _, s := range []string{
		"failed pre-install", "failed post-install", "pre-upgrade hooks failed",
		"post-upgrade hooks failed", "pre-rollback hooks failed", "post-rollback hooks failed",
		"pre-delete hook", "post-delete hook", "warning: Hook", "hook failed",
	} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}
