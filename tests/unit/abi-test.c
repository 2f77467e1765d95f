/*
 * SPDX-License-Identifier: MIT
 * The public ABI of libwayland 1.26 on x86_64: struct layouts, the core
 * interfaces' versions, and the util functions' behaviour.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wayland-client.h"

#include "check.h"

static void
test_struct_layouts(void)
{
	CHECK(sizeof(struct wl_message) == 24);
	CHECK(offsetof(struct wl_message, signature) == 8);
	CHECK(offsetof(struct wl_message, types) == 16);

	CHECK(sizeof(struct wl_interface) == 40);
	CHECK(offsetof(struct wl_interface, version) == 8);
	CHECK(offsetof(struct wl_interface, method_count) == 12);
	CHECK(offsetof(struct wl_interface, methods) == 16);
	CHECK(offsetof(struct wl_interface, event_count) == 24);
	CHECK(offsetof(struct wl_interface, events) == 32);

	CHECK(sizeof(struct wl_list) == 16);
	CHECK(offsetof(struct wl_list, next) == 8);

	CHECK(sizeof(struct wl_array) == 24);
	CHECK(offsetof(struct wl_array, alloc) == 8);
	CHECK(offsetof(struct wl_array, data) == 16);

	CHECK(sizeof(union wl_argument) == 8);
	CHECK(WL_MARSHAL_FLAG_DESTROY == 1);
}

static void
test_interface_versions(void)
{
	static const struct {
		const struct wl_interface *interface;
		const char *name;
		int version;
	} expected[] = {
		{ &wl_display_interface, "wl_display", 1 },
		{ &wl_registry_interface, "wl_registry", 1 },
		{ &wl_callback_interface, "wl_callback", 1 },
		{ &wl_compositor_interface, "wl_compositor", 7 },
		{ &wl_shm_pool_interface, "wl_shm_pool", 3 },
		{ &wl_shm_interface, "wl_shm", 3 },
		{ &wl_buffer_interface, "wl_buffer", 1 },
		{ &wl_data_offer_interface, "wl_data_offer", 4 },
		{ &wl_data_source_interface, "wl_data_source", 4 },
		{ &wl_data_device_interface, "wl_data_device", 4 },
		{ &wl_data_device_manager_interface, "wl_data_device_manager", 4 },
		{ &wl_shell_interface, "wl_shell", 1 },
		{ &wl_shell_surface_interface, "wl_shell_surface", 1 },
		{ &wl_surface_interface, "wl_surface", 7 },
		{ &wl_seat_interface, "wl_seat", 11 },
		{ &wl_pointer_interface, "wl_pointer", 11 },
		{ &wl_keyboard_interface, "wl_keyboard", 11 },
		{ &wl_touch_interface, "wl_touch", 11 },
		{ &wl_output_interface, "wl_output", 4 },
		{ &wl_region_interface, "wl_region", 7 },
		{ &wl_subcompositor_interface, "wl_subcompositor", 1 },
		{ &wl_subsurface_interface, "wl_subsurface", 1 },
		{ &wl_fixes_interface, "wl_fixes", 2 },
	};
	size_t i;

	for (i = 0; i < sizeof expected / sizeof expected[0]; i++) {
		CHECK(strcmp(expected[i].interface->name, expected[i].name) == 0);
		if (expected[i].interface->version != expected[i].version) {
			fprintf(stderr, "%s has version %d, 1.26 has %d\n",
				expected[i].name, expected[i].interface->version,
				expected[i].version);
			failures++;
		}
	}

	/* Messages that Debian 12's 1.21 lacks: a missing opcode would
	 * crash a client built against newer headers. */
	CHECK(wl_shm_interface.method_count == 2);
	CHECK(strcmp(wl_shm_interface.methods[WL_SHM_RELEASE].name, "release") == 0);
	CHECK(wl_surface_interface.event_count == 4);
	CHECK(wl_fixes_interface.method_count == 3);
}

struct item {
	int value;
	struct wl_list link;
};

static void
test_list(void)
{
	struct item a = { 1 }, b = { 2 }, c = { 3 }, *it;
	struct wl_list list, other;
	int sum = 0, order[3], n = 0;

	wl_list_init(&list);
	CHECK(wl_list_empty(&list));
	wl_list_insert(&list, &a.link);
	wl_list_insert(&list, &b.link);
	CHECK(wl_list_length(&list) == 2);

	wl_list_init(&other);
	wl_list_insert(&other, &c.link);
	wl_list_insert_list(&list, &other);
	wl_list_for_each(it, &list, link)
		order[n++] = it->value;
	CHECK(n == 3 && order[0] == 3 && order[1] == 2 && order[2] == 1);

	wl_list_remove(&b.link);
	wl_list_for_each(it, &list, link)
		sum += it->value;
	CHECK(sum == 4);
}

static void
test_array(void)
{
	struct wl_array a, b;
	int *p, i, sum = 0;

	wl_array_init(&a);
	for (i = 0; i < 1000; i++) {
		p = wl_array_add(&a, sizeof *p);
		CHECK(p != NULL);
		*p = i;
	}
	CHECK(a.size == 1000 * sizeof(int));
	CHECK(a.alloc >= a.size);

	wl_array_init(&b);
	CHECK(wl_array_copy(&b, &a) == 0);
	wl_array_for_each(p, &b)
		sum += *p;
	CHECK(sum == 999 * 1000 / 2);
	CHECK(wl_array_add(&a, SIZE_MAX) == NULL);

	wl_array_release(&a);
	wl_array_release(&b);
}

static void
test_fixed(void)
{
	CHECK(wl_fixed_from_int(3) == 768);
	CHECK(wl_fixed_to_int(wl_fixed_from_int(-5)) == -5);
	CHECK(wl_fixed_from_double(1.5) == 384);
	CHECK(wl_fixed_from_double(-1.5) == -384);
	CHECK(wl_fixed_to_double(384) == 1.5);
	CHECK(wl_fixed_to_double(-1) == -1.0 / 256.0);
}

int
main(void)
{
	test_struct_layouts();
	test_interface_versions();
	test_list();
	test_array();
	test_fixed();

	if (failures) {
		fprintf(stderr, "%d checks failed\n", failures);
		return 1;
	}
	printf("abi: all checks passed\n");
	return 0;
}
