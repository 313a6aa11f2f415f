# shellcheck shell=bash
# S5: GET /home with 50 posts vs the same Apache serving the same page as a static file:
# page.html with Apache's defaults, page-sendfile.html with EnableSendfile On
# (bench/httpd-bench.conf).

# S5: post 50 posts, save the page as the two static copies, then wrk over the three.
scenario_s5() {
    local i dyn static posts
    log "S5: GET /home with 50 posts vs the same page as a static file"
    for i in $(seq 50); do
        curl -s -o /dev/null -X POST -H "Cookie: $cookie" \
            --data-urlencode "message=Post $i of the page benchmark: a message of ordinary length, with <markup> & \"quotes\" to escape." \
            "$base/home"
    done
    # A returning visitor: the name cookie of the first visit, sent with every request.
    curl -s -H "Cookie: $cookie" -o "$RUNDIR/htdocs/lib/page.html" "$base/home"
    cp "$RUNDIR/htdocs/lib/page.html" "$RUNDIR/htdocs/lib/page-sendfile.html"
    chmod 644 "$RUNDIR/htdocs/lib/page.html" "$RUNDIR/htdocs/lib/page-sendfile.html"
    dyn=$(curl -s -H "Cookie: $cookie" -o /dev/null -w '%{size_download}' "$base/home")
    static=$(curl -s -H "Cookie: $cookie" -o /dev/null -w '%{size_download}' "$base/lib/page.html")
    posts=$(grep -o 'class="card tw-post' "$RUNDIR/htdocs/lib/page.html" | wc -l)
    log "S5: page $dyn bytes, static copy $static bytes, $posts posts on the page"
    # The cookie has no spaces ("tw_name=..."), so it can travel as one word.
    wrk_mirrored "S5-page|ours|form|-H Cookie:$cookie $base/home" \
        "S5-static|ours|form|-H Cookie:$cookie $base/lib/page.html" \
        "S5-static-sendfile|ours|form|-H Cookie:$cookie $base/lib/page-sendfile.html"
    save S5 scenario=S5 "${wrk_fields[@]}" posts:="$posts" page_bytes:="$dyn" static_bytes:="$static"
}
