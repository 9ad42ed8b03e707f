// Command coredns is CoreDNS with only the plugins the cluster's DNS uses (the Corefile in
// deploy/cluster/manifests/coredns.yaml): the upstream command links every plugin, cloud DNS
// providers included, which makes its build several times longer. No `forward`: the cluster's
// DNS answers for cluster.local alone, so no query leaves the machine.
package main

import (
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/coremain"

	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/loadbalance"
	_ "github.com/coredns/coredns/plugin/metrics"
	_ "github.com/coredns/coredns/plugin/ready"
	_ "github.com/coredns/coredns/plugin/reload"
)

// The plugins above, in the order CoreDNS runs them (its own list, less the others).
var directives = []string{
	"reload", "ready", "health", "prometheus", "errors", "loadbalance", "cache", "kubernetes",
}

func main() {
	dnsserver.Directives = directives
	coremain.Run()
}
