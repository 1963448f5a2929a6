// SPDX-License-Identifier: (GPL-2.0-only OR MIT)
/* The trivial XDP program: passes everything. The benchmark's floor (cost of an
 * XDP program run that does nothing) measured beside couic_xdp. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual MIT/GPL";

SEC("xdp")
int xdp_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}
