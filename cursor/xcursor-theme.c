/*
 * Finding a cursor theme on disk: the search path (XCURSOR_PATH or the XDG
 * and X11 defaults), each theme's cursors/ folder, and index.theme Inherits,
 * walked in the same order as libXcursor and upstream libwayland-cursor.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "xcursor.h"

#ifndef CURSOR_ICONDIR
#define CURSOR_ICONDIR "/usr/share/icons"
#endif

/* After $XDG_DATA_HOME/icons, as upstream's default search path. */
#define CURSOR_DEFAULT_PATH \
	"~/.icons:/usr/share/icons:/usr/share/pixmaps:~/.cursors:" \
	"/usr/share/cursors/xorg-x11:" CURSOR_ICONDIR

struct theme_walk {
	int size;
	xcursor_load_func load;
	void *data;
	/* Themes already walked: stops Inherits loops and repeats. */
	char *visited[XCURSOR_MAX_INHERITS];
	int nvisited;
};

static char *
search_path(void)
{
	const char *env = getenv("XCURSOR_PATH");
	const char *data_home;
	char *path;

	if (env)
		return strdup(env);

	data_home = getenv("XDG_DATA_HOME");
	if (!data_home || data_home[0] != '/')
		data_home = "~/.local/share";
	if (asprintf(&path, "%s/icons:%s", data_home, CURSOR_DEFAULT_PATH) < 0)
		return NULL;
	return path;
}

/* "dir/theme" for one element of the search path; ~ means $HOME. */
static char *
theme_dir(const char *dir, size_t dirlen, const char *theme)
{
	const char *home = "";
	char *full;

	if (dirlen > 0 && dir[0] == '~') {
		home = getenv("HOME");
		if (!home)
			return NULL;
		dir++;
		dirlen--;
		if (asprintf(&full, "%s/%.*s/%s", home, (int)dirlen, dir,
			     theme) < 0)
			return NULL;
		return full;
	}
	if (asprintf(&full, "%.*s/%s", (int)dirlen, dir, theme) < 0)
		return NULL;
	return full;
}

static bool
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n';
}

static bool
is_separator(char c)
{
	return c == ',' || c == ';';
}

/* The first Inherits= line of index.theme, as a ':'-separated list. */
static char *
read_inherits(const char *dir)
{
	char *file, *line = NULL, *result = NULL, *out;
	size_t cap = 0;
	const char *p;
	FILE *f;

	if (asprintf(&file, "%s/index.theme", dir) < 0)
		return NULL;
	f = fopen(file, "re");
	free(file);
	if (!f)
		return NULL;

	while (getline(&line, &cap, f) >= 0) {
		if (strncmp(line, "Inherits", 8) != 0)
			continue;
		p = line + 8;
		while (*p == ' ')
			p++;
		if (*p != '=')
			continue;
		p++;
		result = malloc(strlen(p) + 1);
		if (!result)
			break;
		out = result;
		while (*p) {
			while (is_space(*p) || is_separator(*p))
				p++;
			if (!*p)
				break;
			if (out != result)
				*out++ = ':';
			while (*p && !is_space(*p) && !is_separator(*p))
				*out++ = *p++;
		}
		*out = '\0';
		break;
	}
	free(line);
	fclose(f);
	return result;
}

static void
load_cursor_dir(struct theme_walk *walk, const char *theme_path)
{
	struct xcursor_images *images;
	struct dirent *ent;
	char *path;
	DIR *dir;
	int dfd, fd;

	if (asprintf(&path, "%s/cursors", theme_path) < 0)
		return;
	dir = opendir(path);
	free(path);
	if (!dir)
		return;
	dfd = dirfd(dir);

	while ((ent = readdir(dir))) {
		if (ent->d_type != DT_UNKNOWN && ent->d_type != DT_REG &&
		    ent->d_type != DT_LNK)
			continue;
		fd = openat(dfd, ent->d_name, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
		if (fd < 0)
			continue;
		images = xcursor_load_fd(fd, walk->size);
		close(fd);
		if (!images)
			continue;
		images->name = strdup(ent->d_name);
		if (!images->name) {
			xcursor_images_destroy(images);
			continue;
		}
		walk->load(images, walk->data);
	}
	closedir(dir);
}

static bool
walk_visit(struct theme_walk *walk, const char *theme, size_t len)
{
	int i;

	for (i = 0; i < walk->nvisited; i++)
		if (strlen(walk->visited[i]) == len &&
		    strncmp(walk->visited[i], theme, len) == 0)
			return false;
	if (walk->nvisited == XCURSOR_MAX_INHERITS)
		return false;
	walk->visited[walk->nvisited] = strndup(theme, len);
	if (!walk->visited[walk->nvisited])
		return false;
	walk->nvisited++;
	return true;
}

static void
walk_theme(struct theme_walk *walk, const char *theme, size_t len)
{
	char *name, *path, *dir, *inherits = NULL;
	const char *p, *end;

	if (len == 0 || !walk_visit(walk, theme, len))
		return;
	name = walk->visited[walk->nvisited - 1];

	path = search_path();
	for (p = path; p; p = end ? end + 1 : NULL) {
		end = strchr(p, ':');
		dir = theme_dir(p, end ? (size_t)(end - p) : strlen(p), name);
		if (!dir)
			continue;
		load_cursor_dir(walk, dir);
		/* Only the first index.theme found names the parents. */
		if (!inherits)
			inherits = read_inherits(dir);
		free(dir);
	}
	free(path);

	for (p = inherits; p; p = end ? end + 1 : NULL) {
		end = strchr(p, ':');
		walk_theme(walk, p, end ? (size_t)(end - p) : strlen(p));
	}
	free(inherits);
}

void
xcursor_theme_load(const char *theme, int size, xcursor_load_func load,
		   void *data)
{
	struct theme_walk walk = { .size = size, .load = load, .data = data };
	const char *colon;
	int i;

	if (!theme)
		theme = "default";
	/* As upstream, a theme name ends at its first ':'. */
	colon = strchr(theme, ':');
	walk_theme(&walk, theme, colon ? (size_t)(colon - theme) :
					 strlen(theme));

	for (i = 0; i < walk.nvisited; i++)
		free(walk.visited[i]);
}
