// Command netagent is the pod network of a chartest kind node: what kindnetd does
// for kindest/node, in the few steps a kind cluster needs.
//
// It runs as a DaemonSet on every node (host network) and keeps three things true:
//
//   - the node's CNI config (ptp + host-local on the node's podCIDR, portmap)
//     exists, so kubelet can start pods as soon as the node has a podCIDR;
//   - every other node's podCIDR is routed via that node's InternalIP, so pods
//     reach pods on other nodes with their own addresses (NetworkPolicies see
//     the real source);
//   - traffic from the pod subnet to anywhere outside it is masqueraded to the
//     node's address.
//
// Nodes are watched with a client-go informer; every change re-applies the whole
// state, which is idempotent.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	listersv1 "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
)

const (
	resync      = 30 * time.Second
	masqComment = "chartest-netagent: pod traffic leaving the pod subnet"
)

type agent struct {
	nodeName   string
	podSubnets []*net.IPNet
	confPath   string
	lister     listersv1.NodeLister
}

func main() {
	log.SetFlags(log.LstdFlags | log.Lmicroseconds)
	nodeName := mustEnv("NODE_NAME")
	subnets, err := parseCIDRs(mustEnv("POD_SUBNET"))
	if err != nil {
		log.Fatalf("POD_SUBNET: %v", err)
	}
	config, err := rest.InClusterConfig()
	if err != nil {
		log.Fatalf("in-cluster config: %v", err)
	}
	// kind tells the CNI the API server's own address: no wait for kube-proxy's Service rules
	if endpoint := os.Getenv("CONTROL_PLANE_ENDPOINT"); endpoint != "" {
		config.Host = "https://" + endpoint
	}
	client := kubernetes.NewForConfigOrDie(config)

	factory := informers.NewSharedInformerFactory(client, resync)
	nodes := factory.Core().V1().Nodes()
	a := &agent{nodeName: nodeName, podSubnets: subnets, lister: nodes.Lister(),
		confPath: envOr("CNI_CONF", "/etc/cni/net.d/10-chartest.conflist")}

	changed := make(chan struct{}, 1)
	poke := func(interface{}) {
		select {
		case changed <- struct{}{}:
		default:
		}
	}
	nodes.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    poke,
		UpdateFunc: func(_, obj interface{}) { poke(obj) },
		DeleteFunc: poke,
	})
	ctx := context.Background()
	factory.Start(ctx.Done())
	factory.WaitForCacheSync(ctx.Done())
	log.Printf("netagent on node %s, pod subnet %s", nodeName, os.Getenv("POD_SUBNET"))

	ticker := time.NewTicker(resync)
	for {
		if err := a.reconcile(); err != nil {
			log.Printf("reconcile: %v", err)
		}
		select {
		case <-changed:
		case <-ticker.C:
		}
	}
}

func (a *agent) reconcile() error {
	all, err := a.lister.List(labels.Everything())
	if err != nil {
		return err
	}
	var errs []string
	for _, node := range all {
		if node.Name == a.nodeName {
			if err := a.writeConflist(node); err != nil {
				errs = append(errs, err.Error())
			}
			continue
		}
		if err := routeTo(node); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if err := a.ensureMasquerade(); err != nil {
		errs = append(errs, err.Error())
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
}

// writeConflist writes the node's CNI config once it has a podCIDR (atomically, only on change).
func (a *agent) writeConflist(node *corev1.Node) error {
	cidrs := ipv4CIDRs(node)
	if len(cidrs) == 0 {
		return fmt.Errorf("node %s has no IPv4 podCIDR yet", node.Name)
	}
	ranges := [][]map[string]string{{{"subnet": cidrs[0]}}}
	conf := map[string]interface{}{
		"cniVersion": "1.0.0",
		"name":       "chartest",
		"plugins": []interface{}{
			map[string]interface{}{
				"type":   "ptp",
				"ipMasq": false, // the agent masquerades, leaving pod-to-pod traffic untouched
				"mtu":    mtuOf(internalIPv4(node)),
				"ipam": map[string]interface{}{
					"type":   "host-local",
					"ranges": ranges,
					"routes": []map[string]string{{"dst": "0.0.0.0/0"}},
				},
			},
			map[string]interface{}{"type": "portmap", "capabilities": map[string]bool{"portMappings": true}},
		},
	}
	body, err := json.MarshalIndent(conf, "", "  ")
	if err != nil {
		return err
	}
	if old, err := os.ReadFile(a.confPath); err == nil && bytes.Equal(old, body) {
		return nil
	}
	tmp := filepath.Join(filepath.Dir(a.confPath), ".netagent.tmp")
	if err := os.WriteFile(tmp, body, 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp, a.confPath); err != nil {
		return err
	}
	log.Printf("wrote %s for podCIDR %s", a.confPath, cidrs[0])
	return nil
}

// routeTo routes the node's podCIDRs via its InternalIP.
func routeTo(node *corev1.Node) error {
	gateway := internalIPv4(node)
	if gateway == "" {
		return nil // not registered fully yet: the next update brings it
	}
	for _, cidr := range ipv4CIDRs(node) {
		if err := run("ip", "route", "replace", cidr, "via", gateway); err != nil {
			return fmt.Errorf("route %s via %s (%s): %w", cidr, gateway, node.Name, err)
		}
	}
	return nil
}

// ensureMasquerade adds one POSTROUTING rule per pod subnet, unless it is there.
func (a *agent) ensureMasquerade() error {
	for _, subnet := range a.podSubnets {
		rule := []string{"POSTROUTING", "-s", subnet.String(), "!", "-d", subnet.String(),
			"-m", "comment", "--comment", masqComment, "-j", "MASQUERADE"}
		if run(append([]string{"iptables", "-w", "-t", "nat", "-C"}, rule...)...) == nil {
			continue
		}
		if err := run(append([]string{"iptables", "-w", "-t", "nat", "-A"}, rule...)...); err != nil {
			return fmt.Errorf("masquerade %s: %w", subnet, err)
		}
		log.Printf("masquerading %s to the node address", subnet)
	}
	return nil
}

func ipv4CIDRs(node *corev1.Node) []string {
	cidrs := node.Spec.PodCIDRs
	if len(cidrs) == 0 && node.Spec.PodCIDR != "" {
		cidrs = []string{node.Spec.PodCIDR}
	}
	var out []string
	for _, c := range cidrs {
		if ip, _, err := net.ParseCIDR(c); err == nil && ip.To4() != nil {
			out = append(out, c)
		}
	}
	return out
}

func internalIPv4(node *corev1.Node) string {
	for _, addr := range node.Status.Addresses {
		if addr.Type == corev1.NodeInternalIP {
			if ip := net.ParseIP(addr.Address); ip != nil && ip.To4() != nil {
				return addr.Address
			}
		}
	}
	return ""
}

// mtuOf is the MTU of the interface carrying ip (the pods' traffic leaves through it); 1500 if unknown.
func mtuOf(ip string) int {
	ifaces, err := net.Interfaces()
	if err != nil {
		return 1500
	}
	for _, iface := range ifaces {
		addrs, err := iface.Addrs()
		if err != nil {
			continue
		}
		for _, addr := range addrs {
			if ipnet, ok := addr.(*net.IPNet); ok && ipnet.IP.String() == ip {
				return iface.MTU
			}
		}
	}
	return 1500
}

func parseCIDRs(raw string) ([]*net.IPNet, error) {
	var out []*net.IPNet
	for _, part := range strings.Split(raw, ",") {
		_, subnet, err := net.ParseCIDR(strings.TrimSpace(part))
		if err != nil {
			return nil, err
		}
		if subnet.IP.To4() != nil {
			out = append(out, subnet)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no IPv4 subnet in %q", raw)
	}
	return out, nil
}

func run(argv ...string) error {
	out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %w: %s", strings.Join(argv, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

func mustEnv(name string) string {
	value := os.Getenv(name)
	if value == "" {
		log.Fatalf("environment variable %s is required", name)
	}
	return value
}

func envOr(name, fallback string) string {
	if value := os.Getenv(name); value != "" {
		return value
	}
	return fallback
}
