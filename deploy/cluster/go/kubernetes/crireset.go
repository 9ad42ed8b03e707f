package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"go.opentelemetry.io/otel/trace/noop"
	criclient "k8s.io/cri-client/pkg"
)

// criReset stops and removes every pod sandbox of the container runtime at endpoint, as
// `kubeadm reset` does: the runtime tears down each pod's network (CNI DEL) and mounts, so
// nothing of a pod is left on the host once the kubelet is gone.
func criReset(endpoint string) error {
	runtime, err := criclient.NewRemoteRuntimeService(endpoint, 10*time.Second, noop.NewTracerProvider(), nil)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sandboxes, err := runtime.ListPodSandbox(ctx, nil)
	if err != nil {
		return err
	}
	for _, sandbox := range sandboxes {
		if err := runtime.StopPodSandbox(ctx, sandbox.Id); err != nil {
			return fmt.Errorf("stopping pod sandbox %s (%s): %w", sandbox.Id, sandbox.Metadata.Name, err)
		}
		if err := runtime.RemovePodSandbox(ctx, sandbox.Id); err != nil {
			return fmt.Errorf("removing pod sandbox %s (%s): %w", sandbox.Id, sandbox.Metadata.Name, err)
		}
	}
	fmt.Printf("cri-reset: %d pod sandboxes stopped and removed\n", len(sandboxes))
	return nil
}

func runCRIReset(args []string) {
	if len(args) != 1 {
		fmt.Fprintln(os.Stderr, "usage: kube cri-reset unix:///path/to/runtime.sock")
		os.Exit(2)
	}
	if err := criReset(args[0]); err != nil {
		fmt.Fprintf(os.Stderr, "cri-reset: %v\n", err)
		os.Exit(1)
	}
}
