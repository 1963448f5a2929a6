/* Layouts shared by the XDP program (couic.bpf.c) and the TypeScript binding
 * (src/dataplane/xdp/layout.ts mirrors these numbers; keep both in step).
 * The rules are compiled by userspace (src/dataplane/xdp/table-compiler.ts) into
 * tables the program reads with inlined array loads; bpf/README.md has the design. */
#ifndef COUIC_H
#define COUIC_H

#define COUIC_DROP_MAX_ENTRIES 262144
#define COUIC_IGNORE_MAX_ENTRIES 65536

/* Tag counter slots: 0 = untagged, 1..254 = one tag each (allocated by userspace),
 * 255 = every tag beyond the 254 tracked ones ("untracked"). */
#define COUIC_TAG_SLOTS 256
#define COUIC_TAG_UNTAGGED 0
#define COUIC_TAG_UNTRACKED 255
#define COUIC_TAG_NAME_LEN 80

/* Number of XDP actions counted (XDP_ABORTED .. XDP_REDIRECT = 0..4). */
#define COUIC_ACTIONS 5

/* A compiled verdict (u32 in the top tables, u16 in blocks): bits 0-7 the tag slot,
 * bits 8-9 the verdict. 0 = no rule covers the address. */
#define COUIC_VERDICT_SHIFT 8
#define COUIC_VERDICT_DROP 1
#define COUIC_VERDICT_IGNORE 2
#define COUIC_VERDICT_MASK 0x3ff
/* Top-table slot with bit 31 set: IPv4, the low 31 bits index a 256-entry block of
 * v4_blocks (prefixes longer than /24 inside this /24); IPv6, probe v6_long for the
 * lengths in v6_lengths, the low 10 bits being the verdict when none matches. */
#define COUIC_SLOT_DEEPER 0x80000000u

/* Top tables: 2^24 slots (IPv4: top 24 bits of the address; IPv6: top 24 bits),
 * stored as 65,536 rows of 256 so an array element is 1 KiB (an array map rounds
 * each element up to 8 bytes: a u32 element would cost 128 MiB). */
#define COUIC_TOP_ROWS 65536
#define COUIC_ROW_SLOTS 256
/* Blocks for IPv4 /25-/32: one per /24 holding such a prefix; at most one per rule. */
#define COUIC_V4_BLOCKS (COUIC_DROP_MAX_ENTRIES + COUIC_IGNORE_MAX_ENTRIES)
/* IPv6 prefixes longer than /24: an open-addressing hash table kept by userspace in
 * an mmapped array (so a probe is inlined array loads, not a call): 2^21 entries
 * for at most 327,680 prefixes; each prefix sits in one of the 8 entries of its
 * two 4-entry windows (hash below, computed identically by userspace). */
#define COUIC_V6_SLOTS_LOG2 21
#define COUIC_V6_SLOTS (1 << COUIC_V6_SLOTS_LOG2)
#define COUIC_V6_WINDOW 4
/* IPv6 prefix lengths 25..128 that v6_long holds. */
#define COUIC_V6_LENGTHS 104
/* Length lists: 0 = every length in use; 1.. = the lengths under one or more /24
 * slots (deduplicated). A DEEPER IPv6 top slot holds its list's index in bits 10-30. */
#define COUIC_V6_LENGTH_SETS 4096
#define COUIC_V6_SET_SHIFT 10
#define COUIC_V6_SET_MASK 0x1fffff
/* The pinned record of installed rules (both policies and families): read back at
 * restart so the tables can be recompiled exactly; the program never reads it. */
#define COUIC_RULE_RECORD_ENTRIES (2 * (COUIC_DROP_MAX_ENTRIES + COUIC_IGNORE_MAX_ENTRIES))

struct couic_row {
	__u32 slot[COUIC_ROW_SLOTS];
};

struct couic_block {
	__u16 slot[COUIC_ROW_SLOTS];
};

/* One v6_long entry: the masked prefix as four big-endian 32-bit words (in host
 * order), its length (0: free; written last when an entry is published) and its
 * compiled verdict. */
struct couic_v6_entry {
	__u32 words[4];
	__u32 prefixlen;
	__u32 value;
};

/* Lengths in use in v6_long, longest first; 0 ends the list. */
struct couic_v6_lengths {
	__u8 len[COUIC_V6_LENGTHS];
};

/* rule_record key: policy 0 drop / 1 ignore, family 4 or 6, prefix length, the
 * masked address (IPv4 in the first 4 bytes). Value: the tag slot (u32). */
struct couic_rule_key {
	__u8 policy;
	__u8 family;
	__u8 prefixlen;
	__u8 pad;
	__u8 addr[16];
};

struct couic_counter {
	__u64 packets;
	__u64 bytes;
};

struct couic_tag_name {
	char name[COUIC_TAG_NAME_LEN];
};

#endif
