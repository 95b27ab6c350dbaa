/*
 * test_crm_arena.c - the request arena: alignment, blocks beyond the first,
 * reset (cleanups last-first, extra blocks freed), printf, the used counter.
 */
#include "crm_arena.h"

#include <check.h>
#include <malloc.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int aligned(const void *p)
{
    return ((uintptr_t)p % alignof(max_align_t)) == 0 && ((uintptr_t)p % 16) == 0;
}

START_TEST(test_alignment)
{
    crm_arena *a = crm_arena_new(1024);
    static const size_t sizes[] = { 1, 2, 3, 5, 7, 8, 9, 15, 16, 17, 31, 33, 100, 255, 1000, 3000 };

    for (int round = 0; round < 3; round++) {
        for (size_t i = 0; i < CRM_NELEM(sizes); i++) {
            void *p = crm_arena_alloc(a, sizes[i]);
            ck_assert_ptr_nonnull(p);
            ck_assert_msg(aligned(p), "alloc(%zu) not aligned: %p", sizes[i], p);
            char *s = crm_arena_strdup(a, "x");
            ck_assert_msg(aligned(s), "strdup not aligned");
            void *z = crm_arena_calloc(a, sizes[i]);
            ck_assert_msg(aligned(z), "calloc(%zu) not aligned", sizes[i]);
        }
        crm_arena_reset(a);
    }
    crm_arena_free(a);
}
END_TEST

/* Allocations never overlap: fill each with its own byte, then check all. */
START_TEST(test_no_overlap)
{
    crm_arena *a = crm_arena_new(1024);
    unsigned char *ptrs[200];
    size_t lens[200];

    for (size_t i = 0; i < 200; i++) {
        lens[i] = 1 + (i * 37) % 300;
        ptrs[i] = crm_arena_alloc(a, lens[i]);
        memset(ptrs[i], (int)(i & 0xff), lens[i]);
    }
    for (size_t i = 0; i < 200; i++)
        for (size_t k = 0; k < lens[i]; k++)
            ck_assert_uint_eq(ptrs[i][k], i & 0xff);
    crm_arena_free(a);
}
END_TEST

START_TEST(test_large_allocations)
{
    crm_arena *a = crm_arena_new(1024);
    char *small = crm_arena_alloc(a, 10);
    memset(small, 's', 10);

    /* Far beyond the block size: its own block, fully usable. */
    size_t big = 1 << 20;
    unsigned char *p = crm_arena_alloc(a, big);
    ck_assert_ptr_nonnull(p);
    ck_assert(aligned(p));
    memset(p, 0xab, big);
    ck_assert_uint_eq(p[0], 0xab);
    ck_assert_uint_eq(p[big - 1], 0xab);

    /* Allocation after a large one still works and does not overlap it. */
    char *after = crm_arena_alloc(a, 100);
    memset(after, 'a', 100);
    ck_assert_uint_eq(p[big - 1], 0xab);
    ck_assert_int_eq(small[9], 's');

    /* Exactly one block, and one byte more than a block. */
    char *exact = crm_arena_alloc(a, 1024);
    memset(exact, 'e', 1024);
    char *over = crm_arena_alloc(a, 1025);
    memset(over, 'o', 1025);
    ck_assert_int_eq(exact[1023], 'e');
    ck_assert_int_eq(after[99], 'a');

    /* calloc of a large size is zeroed even when the block is reused. */
    crm_arena_reset(a);
    unsigned char *z = crm_arena_calloc(a, 5000);
    for (size_t i = 0; i < 5000; i++)
        ck_assert_uint_eq(z[i], 0);
    crm_arena_free(a);
}
END_TEST

START_TEST(test_small_block_size_rounded_up)
{
    /* A tiny block request still gives a working arena. */
    crm_arena *a = crm_arena_new(0);
    for (int i = 0; i < 1000; i++) {
        char *p = crm_arena_printf(a, "n%d", i);
        ck_assert_str_eq(p, crm_arena_printf(a, "n%d", i));
    }
    crm_arena_free(a);
}
END_TEST

static int order[16];
static int n_order;

static void record(void *arg)
{
    order[n_order++] = (int)(intptr_t)arg;
}

START_TEST(test_cleanups_reverse_order)
{
    crm_arena *a = crm_arena_new(1024);
    n_order = 0;

    for (intptr_t i = 1; i <= 5; i++) {
        crm_arena_cleanup(a, record, (void *)i);
        (void)crm_arena_alloc(a, 700); /* spread cleanups over several blocks */
    }
    ck_assert_int_eq(n_order, 0);
    crm_arena_reset(a);
    ck_assert_int_eq(n_order, 5);
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(order[i], 5 - i);

    /* Cleanups run once: a second reset runs nothing. */
    crm_arena_reset(a);
    ck_assert_int_eq(n_order, 5);

    /* crm_arena_free runs pending cleanups too. */
    crm_arena_cleanup(a, record, (void *)(intptr_t)9);
    crm_arena_free(a);
    ck_assert_int_eq(n_order, 6);
    ck_assert_int_eq(order[5], 9);
}
END_TEST

static crm_arena *nested_arena;

static void nested_inner(void *arg)
{
    record(arg);
}

/* A cleanup that allocates and registers another cleanup during reset. */
static void nested_outer(void *arg)
{
    record(arg);
    char *s = crm_arena_strdup(nested_arena, "allocated during reset");
    ck_assert_str_eq(s, "allocated during reset");
    (void)crm_arena_alloc(nested_arena, 4096); /* forces a new block */
    crm_arena_cleanup(nested_arena, nested_inner, (void *)(intptr_t)100);
}

START_TEST(test_cleanup_registers_cleanup)
{
    crm_arena *a = crm_arena_new(1024);
    nested_arena = a;
    n_order = 0;

    crm_arena_cleanup(a, record, (void *)(intptr_t)1);
    crm_arena_cleanup(a, nested_outer, (void *)(intptr_t)2);
    crm_arena_cleanup(a, record, (void *)(intptr_t)3);
    crm_arena_reset(a);

    /* All ran in this reset, the nested one after the ones pending. */
    ck_assert_int_eq(n_order, 4);
    ck_assert_int_eq(order[0], 3);
    ck_assert_int_eq(order[1], 2);
    ck_assert_int_eq(order[2], 1);
    ck_assert_int_eq(order[3], 100);
    ck_assert_uint_eq(crm_arena_used(a), 0);

    /* Nothing left over for the next request. */
    crm_arena_reset(a);
    ck_assert_int_eq(n_order, 4);
    crm_arena_free(a);
}
END_TEST

START_TEST(test_reset_keeps_first_block)
{
    crm_arena *a = crm_arena_new(4096);
    void *first = crm_arena_alloc(a, 64);

    for (int i = 0; i < 50; i++)
        (void)crm_arena_alloc(a, 3000);
    (void)crm_arena_alloc(a, 1 << 20);
    crm_arena_reset(a);
    ck_assert_uint_eq(crm_arena_used(a), 0);
    /* The first block is reused from its start. */
    ck_assert_ptr_eq(crm_arena_alloc(a, 64), first);
    crm_arena_free(a);
}
END_TEST

/*
 * Extra blocks are freed at reset, not kept or leaked: heap in use does not
 * grow over many request cycles. (Under ASan, LeakSanitizer checks too.)
 */
START_TEST(test_reset_frees_extra_blocks)
{
    crm_arena *a = crm_arena_new(1024);
    struct mallinfo2 before = mallinfo2();

    for (int i = 0; i < 200; i++) {
        for (int k = 0; k < 16; k++)
            (void)crm_arena_alloc(a, 4000);
        (void)crm_arena_alloc(a, 1 << 20);
        crm_arena_reset(a);
    }
    struct mallinfo2 after = mallinfo2();
    size_t was = before.uordblks + before.hblkhd, is = after.uordblks + after.hblkhd;
    /* Without frees this would be over 200 MB. */
    ck_assert_msg(is < was + (8u << 20), "heap grew from %zu to %zu bytes", was, is);
    crm_arena_free(a);
}
END_TEST

START_TEST(test_printf)
{
    crm_arena *a = crm_arena_new(1024);

    ck_assert_str_eq(crm_arena_printf(a, "%s-%d", "id", 42), "id-42");
    ck_assert_str_eq(crm_arena_printf(a, "%s", ""), "");

    /* Around the 256-byte stack buffer, and far beyond the block size. */
    static const size_t lens[] = { 254, 255, 256, 257, 1023, 1024, 5000, 100000 };
    for (size_t i = 0; i < CRM_NELEM(lens); i++) {
        size_t n = lens[i];
        char *want = malloc(n + 1);
        for (size_t k = 0; k < n; k++)
            want[k] = (char)('a' + k % 26);
        want[n] = '\0';
        char *got = crm_arena_printf(a, "%s", want);
        ck_assert_uint_eq(strlen(got), n);
        ck_assert_int_eq(memcmp(got, want, n + 1), 0);
        char *wrapped = crm_arena_printf(a, "<%s|%d>", want, 7);
        ck_assert_uint_eq(strlen(wrapped), n + 4);
        ck_assert_int_eq(wrapped[0], '<');
        ck_assert_int_eq(memcmp(wrapped + 1, want, n), 0);
        ck_assert_str_eq(wrapped + 1 + n, "|7>");
        free(want);
    }
    crm_arena_free(a);
}
END_TEST

START_TEST(test_strdup_strndup)
{
    crm_arena *a = crm_arena_new(1024);
    const char *src = "hello world";

    char *d = crm_arena_strdup(a, src);
    ck_assert_str_eq(d, src);
    ck_assert_ptr_ne(d, src);
    ck_assert_str_eq(crm_arena_strndup(a, src, 5), "hello");
    ck_assert_str_eq(crm_arena_strndup(a, src, 0), "");
    /* strndup copies exactly n bytes, even past a NUL it does not look for. */
    char *bin = crm_arena_strndup(a, "a\0b", 3);
    ck_assert_int_eq(bin[0], 'a');
    ck_assert_int_eq(bin[1], '\0');
    ck_assert_int_eq(bin[2], 'b');
    ck_assert_int_eq(bin[3], '\0');
    crm_arena_free(a);
}
END_TEST

START_TEST(test_used_counter)
{
    crm_arena *a = crm_arena_new(1024);
    size_t want = 0, count = 0;

    ck_assert_uint_eq(crm_arena_used(a), 0);
    static const size_t sizes[] = { 1, 16, 17, 100, 1024, 5000, 3 };
    for (size_t i = 0; i < CRM_NELEM(sizes); i++) {
        size_t before = crm_arena_used(a);
        (void)crm_arena_alloc(a, sizes[i]);
        ck_assert_uint_ge(crm_arena_used(a), before + sizes[i]);
        want += sizes[i];
        count++;
    }
    /* At least what was asked for; at most alignment padding more. */
    ck_assert_uint_ge(crm_arena_used(a), want);
    ck_assert_uint_le(crm_arena_used(a), want + count * 16);

    crm_arena_reset(a);
    ck_assert_uint_eq(crm_arena_used(a), 0);
    (void)crm_arena_alloc(a, 10);
    ck_assert_uint_ge(crm_arena_used(a), 10);
    ck_assert_uint_le(crm_arena_used(a), 16);
    crm_arena_free(a);
}
END_TEST

START_TEST(test_free_null)
{
    crm_arena_free(NULL);
}
END_TEST

static Suite *arena_suite(void)
{
    Suite *s = suite_create("crm_arena");
    TCase *tc = tcase_create("alloc");

    tcase_add_test(tc, test_alignment);
    tcase_add_test(tc, test_no_overlap);
    tcase_add_test(tc, test_large_allocations);
    tcase_add_test(tc, test_small_block_size_rounded_up);
    tcase_add_test(tc, test_strdup_strndup);
    tcase_add_test(tc, test_printf);
    tcase_add_test(tc, test_used_counter);
    suite_add_tcase(s, tc);

    tc = tcase_create("reset");
    tcase_add_test(tc, test_cleanups_reverse_order);
    tcase_add_test(tc, test_cleanup_registers_cleanup);
    tcase_add_test(tc, test_reset_keeps_first_block);
    tcase_add_test(tc, test_reset_frees_extra_blocks);
    tcase_add_test(tc, test_free_null);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(arena_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
