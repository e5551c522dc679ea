package org.xrayscreening.worklist;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.datatype.jsr310.JavaTimeModule;
import io.javalin.Javalin;
import io.javalin.http.Context;
import io.javalin.http.HttpResponseException;
import io.javalin.json.JavalinJackson;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.Map;
import java.util.regex.Pattern;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.ssl.SslContextFactory;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The worklist's HTTP side (Javalin on Jetty): the list, the study page with its pixels and heatmap, the label
 * action, the static script and style, health checks. Cross-cutting rules, applied in {@code before}:
 * authentication ({@link Authenticator}), security headers on every response (a strict CSP without inline code,
 * no framing, nosniff, no referrer, no caching of pages that show clinical data), and CSRF on every POST.
 * Errors are short HTML pages (JSON for the page's scripts) with a message and no stack trace.
 *
 * <p>URLs carry only opaque study keys ({@link Secrets#studyKey}); nothing here logs a request line.
 */
public final class WorklistApp implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(WorklistApp.class);
    private static final Pattern STUDY_KEY = Pattern.compile("[A-Za-z0-9_-]{22}");
    static final String CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
            + "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
    private static final Map<String, String> STATIC = Map.of(
            "worklist.js", "text/javascript; charset=utf-8",
            "study.js", "text/javascript; charset=utf-8",
            "worklist.css", "text/css; charset=utf-8");

    /** TLS: a PKCS#12 (or JKS) key store with the server's key and certificate chain. */
    public record Tls(Path keyStore, String password) {
    }

    /** Everything the app needs. */
    public record Settings(String host, int port, Tls tls, int maxListed) {
    }

    private final WorklistState state;
    private final TopicFollower follower;
    private final LabelPublisher publisher;
    private final AcquiredRecords acquired;
    private final StudyImages images;
    private final Authenticator auth;
    private final CsrfTokens csrf;
    private final Settings settings;
    private final ObjectMapper json = JsonMapper.builder().addModule(new JavaTimeModule())
            .disable(SerializationFeature.WRITE_DATES_AS_TIMESTAMPS).build();
    private Javalin app;

    public WorklistApp(WorklistState state, TopicFollower follower, LabelPublisher publisher, AcquiredRecords acquired,
                       StudyImages images, Authenticator auth, Secrets secrets, Settings settings) {
        this.state = state;
        this.follower = follower;
        this.publisher = publisher;
        this.acquired = acquired;
        this.images = images;
        this.auth = auth;
        this.csrf = new CsrfTokens(secrets, Duration.ofHours(12), Clock.systemUTC());
        this.settings = settings;
    }

    public WorklistApp start() {
        app = Javalin.create(config -> {
            config.showJavalinBanner = false;
            config.startupWatcherEnabled = false;
            config.http.maxRequestSize = 64 * 1024;
            config.jsonMapper(new JavalinJackson(json, false));
            if (settings.tls() != null) {
                config.jetty.addConnector((server, httpConfig) -> {
                    SslContextFactory.Server ssl = new SslContextFactory.Server();
                    ssl.setKeyStorePath(settings.tls().keyStore().toAbsolutePath().toString());
                    ssl.setKeyStorePassword(settings.tls().password());
                    ssl.setIncludeProtocols("TLSv1.3", "TLSv1.2");
                    ServerConnector connector = new ServerConnector(server, ssl);
                    connector.setHost(settings.host());
                    connector.setPort(settings.port());
                    return connector;
                });
            }
        });
        app.before(this::securityHeaders);
        app.before(this::authenticate);
        app.get("/healthz", ctx -> ctx.result("ok"));
        app.get("/readyz", ctx -> {
            boolean ready = follower.caughtUp() && follower.failure() == null;
            ctx.status(ready ? 200 : 503).result(ready ? "ready" : "not ready");
        });
        app.get("/static/{file}", this::staticFile);
        app.get("/", ctx -> ctx.html(Pages.list(user(ctx), state.flagged(settings.maxListed()), follower.caughtUp())));
        app.get("/api/flagged", ctx -> ctx.json(new Json.Listing(state.version(), follower.caughtUp(),
                state.flagged(settings.maxListed()).stream().map(Json::row).toList())));
        app.get("/studies/{key}", ctx -> ctx.html(Pages.study(user(ctx), study(ctx), csrf.issue(user(ctx)))));
        app.get("/studies/{key}/pixels", this::pixels);
        app.get("/studies/{key}/heatmap.png", this::heatmap);
        app.post("/studies/{key}/label", this::label);
        app.exception(WorklistException.class, (e, ctx) -> problem(ctx, e.status(), e.getMessage()));
        app.exception(HttpResponseException.class, (e, ctx) -> problem(ctx, e.getStatus(), e.getMessage()));
        app.exception(Exception.class, (e, ctx) -> {
            LOG.error("request failed: {}", e.toString());
            problem(ctx, 500, "Something went wrong on the server; the error has been logged.");
        });
        app.error(404, ctx -> {
            if (ctx.attribute("problem") == null) {
                problem(ctx, 404, "There is no such page.");
            }
        });
        app.error(405, ctx -> {
            if (ctx.attribute("problem") == null) {
                problem(ctx, 405, "This address does not accept that method.");
            }
        });
        app.start(settings.host(), settings.port());
        return this;
    }

    public int port() {
        return app.port();
    }

    public String address() {
        return (settings.tls() != null ? "https" : "http") + "://" + settings.host() + ":" + port() + "/";
    }

    private void securityHeaders(Context ctx) {
        ctx.header("Content-Security-Policy", CSP);
        ctx.header("X-Frame-Options", "DENY");
        ctx.header("X-Content-Type-Options", "nosniff");
        ctx.header("Referrer-Policy", "no-referrer");
        ctx.header("Cross-Origin-Opener-Policy", "same-origin");
        ctx.header("Cross-Origin-Resource-Policy", "same-origin");
        ctx.header("Permissions-Policy", "camera=(), microphone=(), geolocation=()");
        ctx.header("Cache-Control", "no-store");
        if (settings.tls() != null) {
            ctx.header("Strict-Transport-Security", "max-age=31536000");
        }
    }

    private void authenticate(Context ctx) throws WorklistException {
        String path = ctx.path();
        if (path.equals("/healthz") || path.equals("/readyz")) {
            return;
        }
        Authenticator.Result result = auth.authenticate(ctx.req().getRemoteAddr(), ctx::header);
        if (result.user() == null) {
            if (result.status() == 401 && auth.challenges()) {
                ctx.header("WWW-Authenticate", "Basic realm=\"xray-screening worklist\", charset=\"UTF-8\"");
            }
            throw new WorklistException(result.status(), result.problem());
        }
        ctx.attribute("user", result.user());
        if (ctx.method().name().equals("POST")) {
            String site = ctx.header("Sec-Fetch-Site");
            if (site != null && !site.equals("same-origin")) {
                throw new WorklistException(403, "Cross-site requests may not change anything.");
            }
            String problem = csrf.problem(result.user(), ctx.header(CsrfTokens.HEADER));
            if (problem != null) {
                throw new WorklistException(403, "Refused: " + problem + ".");
            }
        }
    }

    private static User user(Context ctx) {
        return ctx.attribute("user");
    }

    private WorklistState.Study study(Context ctx) throws WorklistException {
        String key = ctx.pathParam("key");
        if (!STUDY_KEY.matcher(key).matches()) {
            throw new WorklistException(400, "This is not a valid study link.");
        }
        return state.byKey(key).orElseThrow(() -> new WorklistException(404,
                "No flagged study has this link (links change when the worklist restarts without a configured secret)."));
    }

    private void pixels(Context ctx) throws WorklistException {
        WorklistState.Study s = study(ctx);
        if (s.acquired() == null) {
            throw new WorklistException(404, "The study's acquisition record is not known to the worklist.");
        }
        StudyImages.Pixels p = images.xray(s.key(), () -> acquired.read(s.studyId(), s.acquired()).image());
        ctx.header("X-Image-Width", Integer.toString(p.width()));
        ctx.header("X-Image-Height", Integer.toString(p.height()));
        ctx.contentType("application/octet-stream").result(p.littleEndianSamples());
    }

    private void heatmap(Context ctx) throws WorklistException {
        WorklistState.Study s = study(ctx);
        if (s.alert().heatmapUri() == null) {
            throw new WorklistException(404, s.alert().heatmapMissing() != null
                    ? "The heatmap is missing: " + s.alert().heatmapMissing() : "No heatmap was made for this study.");
        }
        ctx.contentType("image/png").result(images.heatmap(s.alert().heatmapUri()));
    }

    private void label(Context ctx) throws Exception {
        User user = user(ctx);
        if (!user.may(Role.RADIOLOGIST)) {
            throw new WorklistException(403, "Only a radiologist may label a study.");
        }
        WorklistState.Study s = study(ctx);
        JsonNode body;
        try {
            body = json.readTree(ctx.bodyAsBytes());
        } catch (IOException e) {
            throw new WorklistException(400, "The request body is not JSON.");
        }
        if (body == null || !body.isObject()) {
            throw new WorklistException(400, "The request body must be a JSON object.");
        }
        String verdict = text(body, "verdict");
        if (!"covid".equals(verdict) && !"non-covid".equals(verdict)) {
            throw new WorklistException(400, "verdict must be \"covid\" or \"non-covid\".");
        }
        LabelPublisher.Outcome outcome = publisher.publish(new LabelPublisher.Click(text(body, "clickId"), s,
                verdict.equals("covid"), text(body, "note"), user));
        ctx.json(Map.of("outcome", outcome.name(), "label", verdict, "reviewer", user.name()));
    }

    private static String text(JsonNode body, String field) {
        JsonNode n = body.get(field);
        return n == null || !n.isTextual() ? null : n.asText();
    }

    private void staticFile(Context ctx) throws WorklistException, IOException {
        String file = ctx.pathParam("file");
        String type = STATIC.get(file);
        if (type == null) {
            throw new WorklistException(404, "There is no such file.");
        }
        try (InputStream in = WorklistApp.class.getResourceAsStream("/worklist/" + file)) {
            if (in == null) {
                throw new WorklistException(404, "There is no such file.");
            }
            ctx.header("Cache-Control", "no-cache");
            ctx.contentType(type).result(in.readAllBytes());
        }
    }

    private void problem(Context ctx, int status, String message) {
        ctx.attribute("problem", Boolean.TRUE);
        String title = switch (status) {
            case 400 -> "Bad request";
            case 401 -> "Sign-in required";
            case 403 -> "Forbidden";
            case 404 -> "Not found";
            case 405 -> "Method not allowed";
            case 409 -> "Conflict";
            case 410 -> "Gone";
            case 413 -> "Request too large";
            case 502 -> "Image source failed";
            case 503 -> "Not available yet";
            default -> status >= 500 ? "Server error" : "Refused";
        };
        ctx.status(status);
        String accept = ctx.header("Accept");
        if (ctx.path().startsWith("/api/") || (accept != null && accept.contains("application/json"))) {
            ctx.json(Map.of("status", status, "error", title, "message", message));
        } else {
            ctx.html(Pages.error(status, title, message));
        }
    }

    @Override
    public void close() {
        if (app != null) {
            app.stop();
        }
    }
}
