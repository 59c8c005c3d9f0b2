/* GET /: the dashboard page, a copy of the HTML embedded at build time
 * (cmake/embed_text.cmake turns src/serve/dashboard.html into
 * avf_srv_dashboard_html). The page polls /api/performance/status. */
#include <stdlib.h>
#include <string.h>

#include "serve/obs.h"
#include "serve/server_impl.h"

extern const char avf_srv_dashboard_html[];
extern const unsigned long avf_srv_dashboard_html_len;

void avf_srv_obs_dashboard(avf_srv_reply *out) {
    size_t n = (size_t)avf_srv_dashboard_html_len;
    char *p = malloc(n ? n : 1); /* the response frees its body */
    if (!p) {
        avf_srv_reply_error(out, 503, "out of memory");
        return;
    }
    memcpy(p, avf_srv_dashboard_html, n);
    memset(out, 0, sizeof *out);
    out->status = 200;
    out->body = p;
    out->len = n;
    out->content_type = "text/html; charset=utf-8";
}
