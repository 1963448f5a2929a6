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

/* The same, after reading the Ethernet header (bounds check + one load): shows
 * whether touching the packet at all changes the floor. */
SEC("xdp")
int xdp_pass_read(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	volatile __u16 proto;

	if (data + 14 > data_end)
		return XDP_PASS;
	proto = *(__u16 *)(data + 12);
	(void)proto;
	return XDP_PASS;
}
