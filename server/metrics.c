/*
 * metrics.c - GET /metrics in the Prometheus text format.
 *
 * Request counters are keyed by route, method and status in a small fixed
 * table of atomic counters (a slot is claimed once with a compare-and-swap,
 * then only incremented), so recording a request takes no lock. Duration
 * histograms are per route. Stored blobs and bytes are read from the
 * metadata when scraped.
 */
#include "http.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

enum { ROUTES = ROUTE_COUNT, METHODS = 8, SLOTS = 512, BUCKETS = 12 };

static const char *const route_names[] = {
    [ROUTE_NONE] = "none",           [ROUTE_BASE] = "base",
    [ROUTE_HEALTH] = "health",       [ROUTE_READY] = "ready",
    [ROUTE_METRICS] = "metrics",     [ROUTE_CATALOG] = "catalog",
    [ROUTE_TAGS] = "tags",           [ROUTE_MANIFEST] = "manifest",
    [ROUTE_BLOB] = "blob",           [ROUTE_UPLOAD_START] = "upload",
    [ROUTE_UPLOAD] = "upload",       [ROUTE_REFERRERS] = "referrers",
    [ROUTE_TOKEN] = "token",         [ROUTE_ADMIN_STORAGE] = "admin",
    [ROUTE_UI] = "ui",
};
static const char *const method_names[METHODS] = {"GET", "HEAD", "PUT", "POST",
                                                  "PATCH", "DELETE", "OPTIONS", "other"};
static const double bucket_bounds[BUCKETS] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                              0.05,   0.1,   0.25,   0.5,   1,    5};

/* key = route << 16 | method << 10 | status; 0 is an empty slot */
static atomic_uint slot_key[SLOTS];
static atomic_ullong slot_count[SLOTS];
static atomic_ullong hist[ROUTES][BUCKETS + 1];
static atomic_ullong hist_sum_us[ROUTES];
static atomic_ullong bytes_in, bytes_out;
static atomic_llong uploads_active;
static atomic_ullong gc_runs, gc_removed[5], gc_freed;
static const char *const proxy_kinds[] = {"manifest", "blob"};
static const char *const proxy_results[] = {"hit", "miss", "revalidated", "stale", "joined"};
static atomic_ullong proxy_counts[2][5];

void metrics_proxy(const char *kind, const char *result)
{
    for (int k = 0; k < 2; k++)
        for (int r = 0; r < 5; r++)
            if (strcmp(kind, proxy_kinds[k]) == 0 && strcmp(result, proxy_results[r]) == 0)
                atomic_fetch_add(&proxy_counts[k][r], 1);
}

static const char *route_name(unsigned r)
{
    return r < sizeof route_names / sizeof *route_names && route_names[r] ? route_names[r]
                                                                          : "other";
}

static unsigned method_index(const char *m)
{
    for (unsigned i = 0; i < METHODS - 1; i++)
        if (strcmp(m, method_names[i]) == 0)
            return i;
    return METHODS - 1;
}

void metrics_request(enum route_kind route, const char *method, unsigned status,
                     double seconds, uint64_t in, uint64_t out)
{
    if (route == ROUTE_UPLOAD)
        route = ROUTE_UPLOAD_START;   /* one "upload" route for both */
    unsigned r = (unsigned)route < ROUTES ? (unsigned)route : 0;
    unsigned key = r << 16 | method_index(method) << 10 | (status & 0x3ff);
    for (unsigned i = 0, h = (key * 2654435761u) % SLOTS; i < SLOTS; i++, h = (h + 1) % SLOTS) {
        unsigned cur = atomic_load(&slot_key[h]);
        if (cur == 0) {
            unsigned expected = 0;
            if (!atomic_compare_exchange_strong(&slot_key[h], &expected, key) && expected != key)
                continue;
            cur = key;
        }
        if (cur == key) {
            atomic_fetch_add(&slot_count[h], 1);
            break;
        }
    }
    unsigned b = 0;
    while (b < BUCKETS && seconds > bucket_bounds[b])
        b++;
    atomic_fetch_add(&hist[r][b], 1);
    atomic_fetch_add(&hist_sum_us[r], (unsigned long long)(seconds * 1e6));
    atomic_fetch_add(&bytes_in, in);
    atomic_fetch_add(&bytes_out, out);
}

void metrics_upload_active(int delta)
{
    atomic_fetch_add(&uploads_active, delta);
}

void metrics_gc(const struct gc_report *r)
{
    atomic_fetch_add(&gc_runs, 1);
    atomic_fetch_add(&gc_removed[0], r->blobs);
    atomic_fetch_add(&gc_removed[1], r->manifests);
    atomic_fetch_add(&gc_removed[2], r->tags);
    atomic_fetch_add(&gc_removed[3], r->uploads);
    atomic_fetch_add(&gc_removed[4], r->repositories);
    atomic_fetch_add(&gc_freed, r->bytes);
}

static void help(FILE *f, const char *name, const char *type, const char *text)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, text, name, type);
}

enum MHD_Result api_metrics(struct request *rq)
{
    if (strcmp(rq->method, "GET") != 0 && !is_head(rq))
        return respond_error(rq, 405, "UNSUPPORTED", "method %s not allowed", rq->method);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        return MHD_NO;

    help(f, "berth_http_requests_total", "counter", "HTTP requests answered, by route, method and status.");
    for (unsigned h = 0; h < SLOTS; h++) {
        unsigned key = atomic_load(&slot_key[h]);
        if (!key)
            continue;
        fprintf(f, "berth_http_requests_total{route=\"%s\",method=\"%s\",status=\"%u\"} %llu\n",
                route_name(key >> 16), method_names[(key >> 10) & 63], key & 0x3ff,
                (unsigned long long)atomic_load(&slot_count[h]));
    }
    help(f, "berth_http_request_duration_seconds", "histogram", "Time to answer a request, by route.");
    for (unsigned r = 0; r < ROUTES; r++) {
        unsigned long long counts[BUCKETS + 1], total = 0, cum = 0;
        for (unsigned b = 0; b <= BUCKETS; b++)
            total += counts[b] = atomic_load(&hist[r][b]);
        if (!total)
            continue;
        for (unsigned b = 0; b < BUCKETS; b++) {
            cum += counts[b];
            fprintf(f, "berth_http_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} %llu\n",
                    route_name(r), bucket_bounds[b], cum);
        }
        fprintf(f, "berth_http_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} %llu\n",
                route_name(r), total);
        fprintf(f, "berth_http_request_duration_seconds_sum{route=\"%s\"} %.6f\n", route_name(r),
                (double)atomic_load(&hist_sum_us[r]) / 1e6);
        fprintf(f, "berth_http_request_duration_seconds_count{route=\"%s\"} %llu\n",
                route_name(r), total);
    }
    help(f, "berth_http_request_bytes_total", "counter", "Request body bytes received.");
    fprintf(f, "berth_http_request_bytes_total %llu\n", (unsigned long long)atomic_load(&bytes_in));
    help(f, "berth_http_response_bytes_total", "counter", "Response body bytes sent.");
    fprintf(f, "berth_http_response_bytes_total %llu\n", (unsigned long long)atomic_load(&bytes_out));
    help(f, "berth_uploads_in_progress", "gauge", "Upload requests receiving data now.");
    fprintf(f, "berth_uploads_in_progress %lld\n", (long long)atomic_load(&uploads_active));

    uint64_t blobs = 0, bytes = 0;
    if (meta_totals(rq->srv->meta, &blobs, &bytes) == 0) {
        help(f, "berth_storage_blobs", "gauge", "Blobs stored (manifests included).");
        fprintf(f, "berth_storage_blobs %llu\n", (unsigned long long)blobs);
        help(f, "berth_storage_bytes", "gauge", "Bytes of the blobs stored.");
        fprintf(f, "berth_storage_bytes %llu\n", (unsigned long long)bytes);
    }
    help(f, "berth_gc_runs_total", "counter", "Garbage collections run by this berthd.");
    fprintf(f, "berth_gc_runs_total %llu\n", (unsigned long long)atomic_load(&gc_runs));
    help(f, "berth_gc_removed_total", "counter", "Objects removed by garbage collection, by kind.");
    static const char *const kinds[] = {"blob", "manifest", "tag", "upload", "repository"};
    for (int k = 0; k < 5; k++)
        fprintf(f, "berth_gc_removed_total{kind=\"%s\"} %llu\n", kinds[k],
                (unsigned long long)atomic_load(&gc_removed[k]));
    help(f, "berth_gc_freed_bytes_total", "counter", "Bytes freed by garbage collection.");
    fprintf(f, "berth_gc_freed_bytes_total %llu\n", (unsigned long long)atomic_load(&gc_freed));
    if (rq->srv->proxy) {
        help(f, "berth_proxy_requests_total", "counter",
             "Pull-through cache lookups: hit, miss (fetched upstream), revalidated, stale, joined (an in-flight fetch).");
        for (int k = 0; k < 2; k++)
            for (int r = 0; r < 5; r++)
                fprintf(f, "berth_proxy_requests_total{kind=\"%s\",result=\"%s\"} %llu\n",
                        proxy_kinds[k], proxy_results[r],
                        (unsigned long long)atomic_load(&proxy_counts[k][r]));
    }
    fclose(f);

    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(text);
        return MHD_NO;
    }
    rq->bytes_out = len;
    MHD_add_response_header(resp, "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
    return respond(rq, 200, resp);
}
