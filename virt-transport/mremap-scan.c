/*
 * SPDX-License-Identifier: MIT
 * Which code in this process may grow a wl_shm pool mapping with
 * mremap(): a loaded object that imports both mremap and libwayland's
 * marshalling (its own protocol code). On a real kernel a mapping of host
 * memory cannot grow (VM_DONTEXPAND), so such a process's pools are
 * copied on commit rather than remapped (README.md).
 */
#include <elf.h>
#include <errno.h>
#include <link.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "mremap-scan.h"

#if __SIZEOF_POINTER__ == 8
#define SCAN_R_SYM(info) ELF64_R_SYM(info)
#else
#define SCAN_R_SYM(info) ELF32_R_SYM(info)
#endif

struct dynamic_info {
	const ElfW(Sym) *symtab;
	const char *strtab;
	size_t strsz;
	const void *rel[2];	/* DT_RELA or DT_REL, and DT_JMPREL */
	size_t relsz[2];
	size_t relent[2];
};

struct scan {
	char *who;
	size_t who_size;
	bool found;
};

/* Dynamic entries hold addresses relative to the object or, once the
 * dynamic linker relocated them (glibc does on most targets), absolute
 * ones. */
static const void *
dyn_pointer(const struct dl_phdr_info *info, ElfW(Addr) value)
{
	if (value < info->dlpi_addr)
		return (const void *) (info->dlpi_addr + value);
	return (const void *) value;
}

static bool
dynamic_read(const struct dl_phdr_info *info, const ElfW(Dyn) *dyn,
	     struct dynamic_info *d)
{
	size_t relent = 0, jmprel_ent = sizeof(ElfW(Rela));

	memset(d, 0, sizeof *d);
	for (; dyn->d_tag != DT_NULL; dyn++) {
		switch (dyn->d_tag) {
		case DT_SYMTAB:
			d->symtab = dyn_pointer(info, dyn->d_un.d_ptr);
			break;
		case DT_STRTAB:
			d->strtab = dyn_pointer(info, dyn->d_un.d_ptr);
			break;
		case DT_STRSZ:
			d->strsz = dyn->d_un.d_val;
			break;
		case DT_RELA:
		case DT_REL:
			d->rel[0] = dyn_pointer(info, dyn->d_un.d_ptr);
			break;
		case DT_RELASZ:
		case DT_RELSZ:
			d->relsz[0] = dyn->d_un.d_val;
			break;
		case DT_RELAENT:
		case DT_RELENT:
			relent = dyn->d_un.d_val;
			break;
		case DT_JMPREL:
			d->rel[1] = dyn_pointer(info, dyn->d_un.d_ptr);
			break;
		case DT_PLTRELSZ:
			d->relsz[1] = dyn->d_un.d_val;
			break;
		case DT_PLTREL:
			jmprel_ent = dyn->d_un.d_val == DT_REL ?
				     sizeof(ElfW(Rel)) : sizeof(ElfW(Rela));
			break;
		}
	}
	d->relent[0] = relent;
	d->relent[1] = jmprel_ent;
	return d->symtab && d->strtab && d->strsz;
}

/* Whether the object's relocations name both an imported mremap and
 * libwayland-client's marshalling. */
static bool
object_grows_with_mremap(const struct dynamic_info *d)
{
	bool mremap = false, marshal = false;
	int k;

	for (k = 0; k < 2; k++) {
		const char *rel = d->rel[k];
		size_t off;

		if (!rel || !d->relent[k])
			continue;
		for (off = 0; off + d->relent[k] <= d->relsz[k]; off += d->relent[k]) {
			/* r_info follows r_offset in Rel and Rela alike. */
			const ElfW(Rel) *r = (const ElfW(Rel) *) (rel + off);
			const ElfW(Sym) *sym = &d->symtab[SCAN_R_SYM(r->r_info)];
			const char *name;

			if (SCAN_R_SYM(r->r_info) == 0 || sym->st_shndx != SHN_UNDEF ||
			    sym->st_name >= d->strsz)
				continue;
			name = d->strtab + sym->st_name;
			if (strcmp(name, "mremap") == 0)
				mremap = true;
			else if (strncmp(name, "wl_proxy_marshal", 16) == 0)
				marshal = true;
			if (mremap && marshal)
				return true;
		}
	}
	return false;
}

static int
scan_object(struct dl_phdr_info *info, size_t size, void *data)
{
	struct scan *scan = data;
	struct dynamic_info d;
	int i;

	for (i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];

		if (ph->p_type != PT_DYNAMIC)
			continue;
		if (!dynamic_read(info, (const ElfW(Dyn) *) (info->dlpi_addr + ph->p_vaddr), &d) ||
		    !object_grows_with_mremap(&d))
			return 0;
		snprintf(scan->who, scan->who_size, "%s",
			 info->dlpi_name && info->dlpi_name[0] ?
			 info->dlpi_name : program_invocation_name);
		scan->found = true;
		return 1;	/* one is enough */
	}
	return 0;
}

bool
mremap_scan_process(char *who, size_t who_size)
{
	struct scan scan = { who, who_size, false };

	dl_iterate_phdr(scan_object, &scan);
	return scan.found;
}
