/*
 * ui_files.h - the web UI's files, built into berthd: ui/embed.sh turns
 * ui/ into $(BUILD)/ui_files.c holding this table; api_ui.c serves it.
 */
#ifndef BERTH_SERVER_UI_FILES_H
#define BERTH_SERVER_UI_FILES_H

#include <stddef.h>

struct ui_file {
    const char *name;            /* "index.html": served as /ui/index.html */
    const char *content_type;
    const unsigned char *data;
    size_t len;
};

extern const struct ui_file ui_files[];
extern const size_t ui_files_count;

#endif
