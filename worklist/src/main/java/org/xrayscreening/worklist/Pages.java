package org.xrayscreening.worklist;

import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.Locale;
import org.xrayscreening.connectors.event.ModelScore;
import org.xrayscreening.connectors.event.Recommendation;

/**
 * The server-rendered HTML. Every value goes through {@link #esc}; there is no inline script or style (the CSP
 * forbids both), page data travels in {@code data-} attributes. The patient reference is never rendered: the
 * radiologist opens the study in the PACS by its study id.
 */
final class Pages {
    private Pages() {}

    static String esc(String s) {
        if (s == null) {
            return "";
        }
        StringBuilder b = new StringBuilder(s.length() + 16);
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '<' -> b.append("&lt;");
                case '>' -> b.append("&gt;");
                case '&' -> b.append("&amp;");
                case '"' -> b.append("&quot;");
                case '\'' -> b.append("&#39;");
                default -> b.append(c);
            }
        }
        return b.toString();
    }

    private static String layout(String title, User user, String body, String script) {
        return """
                <!DOCTYPE html>
                <html lang="en"><head><meta charset="utf-8">
                <meta name="viewport" content="width=device-width, initial-scale=1">
                <title>%s</title>
                <link rel="stylesheet" href="/static/worklist.css">
                </head><body>
                <header><a href="/" class="brand">xray-screening worklist</a>
                <span class="who">%s</span></header>
                %s
                <footer>Recommendations support, not replace, a clinician's decision.</footer>
                %s</body></html>
                """.formatted(esc(title), user == null ? "" : esc(user.name()) + " (" + esc(roles(user)) + ")", body,
                script == null ? "" : "<script src=\"/static/" + script + "\"></script>\n");
    }

    private static String roles(User user) {
        return user.may(Role.RADIOLOGIST) ? "radiologist" : "viewer";
    }

    static String list(User user, List<WorklistState.Study> studies, boolean caughtUp) {
        StringBuilder rows = new StringBuilder();
        for (WorklistState.Study s : studies) {
            rows.append(Json.row(s).html());
        }
        String body = """
                <main id="worklist">
                <h1>Flagged studies</h1>
                <p id="status" class="status">%s</p>
                <table class="studies"><thead><tr><th>Flagged</th><th>Study</th><th>Decision</th><th>Ensemble p</th>
                <th>Models (p, version)</th><th>Since acquisition</th><th>Reviewed</th></tr></thead>
                <tbody id="rows">%s</tbody></table>
                </main>
                """.formatted(caughtUp ? "live" : "reading the topics ...", rows);
        return layout("Worklist", user, body, "worklist.js");
    }

    static String study(User user, WorklistState.Study s, String csrf) {
        Recommendation r = s.recommendation();
        StringBuilder models = new StringBuilder();
        if (r != null) {
            for (ModelScore m : r.modelScores()) {
                models.append("<tr><td>").append(esc(m.model())).append("</td><td>").append(esc(m.version()))
                        .append("</td><td class=\"num\">").append(fmt(m.probability())).append("</td></tr>");
            }
            for (String missing : r.missingModels()) {
                models.append("<tr class=\"missing\"><td>").append(esc(missing))
                        .append("</td><td colspan=\"2\">did not answer</td></tr>");
            }
        }
        String heatmap = s.alert().heatmapUri() != null ? "available"
                : s.alert().heatmapMissing() != null ? "missing" : "none";
        String heatmapNote = switch (heatmap) {
            case "available" -> "";
            case "missing" -> "<p class=\"warn\">Heatmap missing: " + esc(s.alert().heatmapMissing()) + "</p>";
            default -> "<p class=\"warn\">No heatmap was made for this study.</p>";
        };
        String review = s.review() == null ? "<p id=\"review\" class=\"review none\">Not reviewed yet.</p>"
                : "<p id=\"review\" class=\"review done\">Reviewed: " + esc(s.review().label())
                  + " (" + esc(s.review().labelSource()) + (s.review().reviewer() != null ? ", " + esc(s.review().reviewer()) : "")
                  + (s.review().confirmedAt() != null
                     ? ", " + esc(s.review().confirmedAt().truncatedTo(ChronoUnit.SECONDS).toString()) : "") + ")</p>";
        String actions = user.may(Role.RADIOLOGIST) ? """
                <section class="actions">
                <h2>Your reading</h2>
                <label for="note">Note (optional, no patient identifiers)</label>
                <textarea id="note" maxlength="500" rows="2"></textarea>
                <div class="buttons">
                <button id="confirm-covid" type="button" class="covid" data-verdict="covid">Confirm COVID-19</button>
                <button id="not-covid" type="button" class="non-covid" data-verdict="non-covid">Not COVID-19</button>
                </div>
                <p id="outcome" class="outcome" role="status"></p>
                </section>
                """ : "<p class=\"warn\">Your role may view but not label studies.</p>";
        String body = """
                <main id="study" data-key="%s" data-csrf="%s" data-heatmap="%s">
                <h1>Study %s <span class="decision %s">%s</span></h1>
                <div class="viewer">
                <div class="image"><canvas id="xray" width="16" height="16" data-xray-drawn="false" data-heatmap-drawn="false"></canvas></div>
                <aside>
                <section class="controls">
                <h2>View</h2>
                <label><input type="checkbox" id="heatmap-toggle" %s> heatmap</label>
                <label for="opacity">opacity</label><input type="range" id="opacity" min="0" max="100" value="45">
                <label for="window-center">window level</label><input type="range" id="window-center" min="0" max="65535" value="32768">
                <label for="window-width">window width</label><input type="range" id="window-width" min="64" max="65535" value="65535">
                <button id="reset-window" type="button">reset window</button>
                %s
                </section>
                <section class="numbers">
                <h2>Models</h2>
                <p>Ensemble probability <b id="ensemble">%s</b> (threshold %s, indeterminate %s-%s)%s</p>
                <table><thead><tr><th>model</th><th>version</th><th>P(COVID-19)</th></tr></thead><tbody>%s</tbody></table>
                <p>Acquired <time datetime="%s">%s</time></p>
                </section>
                %s
                %s
                </aside>
                </div>
                </main>
                """.formatted(esc(s.key()), esc(csrf), heatmap, esc(s.studyId()), esc(lower(s.alert().decision().name())),
                esc(s.alert().decision().name()), heatmap.equals("available") ? "checked" : "disabled",
                heatmapNote,
                r == null ? fmt(s.alert().probability()) : fmt(r.ensembleProbability()),
                r == null ? "?" : fmt(r.threshold()), r == null ? "?" : fmt(r.indeterminateLow()),
                r == null ? "?" : fmt(r.indeterminateHigh()),
                r != null && r.reason() != null ? "; " + esc(r.reason()) : "", models,
                s.acquiredAt() == null ? "" : esc(s.acquiredAt().toString()),
                s.acquiredAt() == null ? "unknown" : esc(s.acquiredAt().truncatedTo(ChronoUnit.SECONDS).toString()),
                review, actions);
        return layout("Study " + s.studyId(), user, body, "study.js");
    }

    static String error(int status, String title, String message) {
        String body = """
                <main class="error"><h1>%d %s</h1><p id="error-message">%s</p><p><a href="/">Back to the worklist</a></p></main>
                """.formatted(status, esc(title), esc(message));
        return layout(status + " " + title, null, body, null);
    }

    static String fmt(Double d) {
        return d == null ? "?" : String.format(Locale.ROOT, "%.3f", d);
    }

    private static String lower(String s) {
        return s.toLowerCase(Locale.ROOT).replace('_', '-');
    }
}
