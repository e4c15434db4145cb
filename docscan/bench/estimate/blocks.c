/*
 * docscan block tracer: a qemu TCG plugin (plugin API v1, qemu 7.2) that records every
 * translated block's guest instruction bytes and how often it ran, split into segments
 * at marker system calls the guest makes on purpose.
 *
 * Marker: any system call whose first argument is DOCSCAN_MARK_FD (the guest calls
 * lseek on that bad descriptor; it fails with EBADF, harmlessly). The segment id is the
 * second argument (aarch64 lseek's offset), or the third where the second is 0 (armhf
 * _llseek passes the offset as high, low words). At each marker the plugin writes the
 * execution counts accumulated since the previous marker:
 *
 *   D <block> <vaddr hex> <insn sizes, one digit each> <bytes hex> <symbol or ->   (first use)
 *   M <id>                                                          (segment closed)
 *   C <block> <executions>                                          (within segment id)
 *
 * Usage: qemu-aarch64 -plugin libdocscan_blocks.so,out=FILE ...
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <glib.h>
#include <qemu-plugin.h>

QEMU_PLUGIN_EXPORT int qemu_plugin_version = QEMU_PLUGIN_VERSION;

#define DOCSCAN_MARK_FD 0x7d0c5ca

typedef struct {
    uint64_t count;      /* incremented inline on every execution */
    uint64_t seen;       /* count at the last marker */
    uint64_t vaddr;
    unsigned idx;
    int defined;         /* D line written */
    size_t nbytes;
    unsigned ninsns;
    char *sizes;         /* one digit per instruction */
    char *symbol;        /* the ELF symbol of the block's first instruction, or "-" */
    unsigned char *bytes;
} Block;

static GMutex lock;
static GHashTable *by_key;   /* GBytes(vaddr + bytes) -> Block* */
static GPtrArray *blocks;
static FILE *out;

static void dump_segment(uint64_t id)
{
    g_mutex_lock(&lock);
    GString *buf = g_string_new(NULL);
    for (unsigned i = 0; i < blocks->len; i++) {
        Block *b = g_ptr_array_index(blocks, i);
        uint64_t now = __atomic_load_n(&b->count, __ATOMIC_RELAXED);
        if (now == b->seen) {
            continue;
        }
        if (!b->defined) {
            g_string_append_printf(buf, "D %u %" PRIx64 " %s ", b->idx, b->vaddr, b->sizes);
            for (size_t k = 0; k < b->nbytes; k++) {
                g_string_append_printf(buf, "%02x", b->bytes[k]);
            }
            g_string_append_printf(buf, " %s\n", b->symbol);
            b->defined = 1;
        }
        g_string_append_printf(buf, "C %u %" PRIu64 "\n", b->idx, now - b->seen);
        b->seen = now;
    }
    g_string_append_printf(buf, "M %" PRIu64 "\n", id);
    fwrite(buf->str, 1, buf->len, out);
    fflush(out);
    g_string_free(buf, TRUE);
    g_mutex_unlock(&lock);
}

static void vcpu_syscall(qemu_plugin_id_t id, unsigned int vcpu_index, int64_t num, uint64_t a1,
                         uint64_t a2, uint64_t a3, uint64_t a4, uint64_t a5, uint64_t a6,
                         uint64_t a7, uint64_t a8)
{
    if ((uint32_t)a1 != DOCSCAN_MARK_FD) {
        return;
    }
    dump_segment(a2 ? a2 : a3);
}

static void vcpu_tb_trans(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
    size_t n = qemu_plugin_tb_n_insns(tb);
    if (n == 0) {
        return;
    }
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        total += qemu_plugin_insn_size(qemu_plugin_tb_get_insn(tb, i));
    }
    unsigned char *key = g_malloc(8 + total);
    char *sizes = g_malloc(n + 1);
    uint64_t vaddr = qemu_plugin_tb_vaddr(tb);
    memcpy(key, &vaddr, 8);
    size_t off = 8;
    for (size_t i = 0; i < n; i++) {
        struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
        size_t sz = qemu_plugin_insn_size(insn);
        memcpy(key + off, qemu_plugin_insn_data(insn), sz);
        off += sz;
        sizes[i] = (char)('0' + (sz < 10 ? sz : 9));
    }
    sizes[n] = 0;
    GBytes *k = g_bytes_new_take(key, 8 + total);

    g_mutex_lock(&lock);
    Block *b = g_hash_table_lookup(by_key, k);
    if (b == NULL) {
        b = g_new0(Block, 1);
        b->vaddr = vaddr;
        b->idx = blocks->len;
        b->nbytes = total;
        b->ninsns = n;
        b->sizes = sizes;
        b->bytes = g_memdup2(key + 8, total);
        const char *sym = qemu_plugin_insn_symbol(qemu_plugin_tb_get_insn(tb, 0));
        b->symbol = g_strdup(sym && *sym ? sym : "-");
        g_strdelimit(b->symbol, " \t\n", '_');
        g_ptr_array_add(blocks, b);
        g_hash_table_insert(by_key, k, b);
    } else {
        g_free(sizes);
        g_bytes_unref(k);
    }
    g_mutex_unlock(&lock);
    qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64, &b->count, 1);
}

static void plugin_exit(qemu_plugin_id_t id, void *p)
{
    dump_segment(0);
    fclose(out);
}

QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info,
                                           int argc, char **argv)
{
    const char *path = NULL;
    for (int i = 0; i < argc; i++) {
        if (g_str_has_prefix(argv[i], "out=")) {
            path = argv[i] + 4;
        }
    }
    if (path == NULL) {
        fprintf(stderr, "docscan blocks plugin: out=FILE is required\n");
        return -1;
    }
    out = fopen(path, "w");
    if (out == NULL) {
        fprintf(stderr, "docscan blocks plugin: cannot write %s\n", path);
        return -1;
    }
    by_key = g_hash_table_new(g_bytes_hash, g_bytes_equal);
    blocks = g_ptr_array_new();
    qemu_plugin_register_vcpu_tb_trans_cb(id, vcpu_tb_trans);
    qemu_plugin_register_vcpu_syscall_cb(id, vcpu_syscall);
    qemu_plugin_register_atexit_cb(id, plugin_exit, NULL);
    return 0;
}
