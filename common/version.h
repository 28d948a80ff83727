/*
 * version.h - the version berthd and berth report. The Makefile passes
 * -DBERTH_VERSION from `git describe --always --dirty`; a build outside a
 * git checkout (a release tarball) gets the release number below, which
 * CHANGELOG.md's newest entry names.
 */
#ifndef BERTH_VERSION_H
#define BERTH_VERSION_H

#ifndef BERTH_VERSION
#define BERTH_VERSION "0.1.0"
#endif

#endif
