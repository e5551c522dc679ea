package org.xrayscreening.connectors.orthanc;

import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import okhttp3.HttpUrl;
import okhttp3.MediaType;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.Response;
import okhttp3.ResponseBody;

/**
 * The few calls of Orthanc's REST API the DICOM gateway needs (Orthanc 1.10, API version 16): the change feed,
 * an instance's main tags, looking an instance up by its SOP Instance UID, and user-defined metadata.
 *
 * <p>Errors are {@link IOException}s naming the HTTP method, the route template and the status, never the
 * resource ids or the response body (Orthanc's error bodies may echo tag values).
 */
public final class OrthancClient implements AutoCloseable {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final MediaType TEXT = MediaType.get("text/plain; charset=utf-8");

    /** One entry of {@code /changes}. */
    public record Change(long seq, String changeType, String resourceType, String id) {
        public boolean isNewInstance() {
            return "NewInstance".equals(changeType);
        }
    }

    /**
     * One page of the change feed.
     *
     * @param last the sequence number to ask for next ({@code since}); Orthanc's {@code Last}
     * @param done true when the feed had no more changes after this page
     */
    public record ChangePage(List<Change> changes, long last, boolean done) {}

    private final HttpUrl base;
    private final String authorization;
    private final OkHttpClient http;

    /**
     * @param baseUrl Orthanc's REST root, e.g. {@code http://orthanc:8042}
     * @param authorization the {@code Authorization} header value, or null
     */
    public OrthancClient(String baseUrl, String authorization, Duration timeout) {
        HttpUrl parsed = HttpUrl.parse(Objects.requireNonNull(baseUrl, "baseUrl").replaceAll("/+$", ""));
        if (parsed == null) {
            throw new IllegalArgumentException("the Orthanc URL is not an http(s) URL");
        }
        this.base = parsed;
        this.authorization = authorization;
        this.http = new OkHttpClient.Builder().followRedirects(false).callTimeout(timeout)
                .connectTimeout(timeout).readTimeout(timeout).build();
    }

    /** The REST root without a trailing slash, as claim-check URIs start. */
    public String baseUrl() {
        String s = base.toString();
        return s.endsWith("/") ? s.substring(0, s.length() - 1) : s;
    }

    /** The claim-check URI of an instance's DICOM file: {@code {base}/instances/{id}/file}. */
    public String instanceFileUri(String instanceId) {
        return base.newBuilder().addPathSegment("instances").addPathSegment(instanceId).addPathSegment("file")
                .build().toString();
    }

    /** Changes after {@code since}, at most {@code limit}. */
    public ChangePage changes(long since, int limit) throws IOException {
        HttpUrl url = base.newBuilder().addPathSegment("changes")
                .addQueryParameter("since", Long.toString(since))
                .addQueryParameter("limit", Integer.toString(limit)).build();
        JsonNode root = getJson(url, "GET /changes").orElseThrow(() -> new IOException("GET /changes: 404"));
        List<Change> changes = new ArrayList<>();
        for (JsonNode c : root.path("Changes")) {
            changes.add(new Change(c.path("Seq").asLong(), c.path("ChangeType").asText(),
                    c.path("ResourceType").asText(), c.path("ID").asText()));
        }
        return new ChangePage(changes, root.path("Last").asLong(since), root.path("Done").asBoolean(false));
    }

    /** The instance's tags by name ({@code /simplified-tags}; sequences dropped), or empty if it is gone. */
    public Optional<Map<String, String>> simplifiedTags(String instanceId) throws IOException {
        HttpUrl url = base.newBuilder().addPathSegment("instances").addPathSegment(instanceId)
                .addPathSegment("simplified-tags").build();
        return getJson(url, "GET /instances/{id}/simplified-tags").map(root -> {
            Map<String, String> tags = new LinkedHashMap<>();
            for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                if (e.getValue().isValueNode() && !e.getValue().isNull()) {
                    tags.put(e.getKey(), e.getValue().asText());
                }
            }
            return tags;
        });
    }

    /** The Orthanc id of the instance with this SOP Instance UID, or empty ({@code POST /tools/lookup}). */
    public Optional<String> instanceBySopInstanceUid(String sopInstanceUid) throws IOException {
        HttpUrl url = base.newBuilder().addPathSegments("tools/lookup").build();
        Request request = request(url).post(RequestBody.create(sopInstanceUid, TEXT)).build();
        try (Response r = http.newCall(request).execute()) {
            check(r, "POST /tools/lookup");
            for (JsonNode hit : JSON.readTree(body(r))) {
                if ("Instance".equals(hit.path("Type").asText())) {
                    return Optional.of(hit.path("ID").asText());
                }
            }
            return Optional.empty();
        }
    }

    /** The Orthanc id of the study an instance belongs to. */
    public String studyOfInstance(String instanceId) throws IOException {
        HttpUrl url = base.newBuilder().addPathSegment("instances").addPathSegment(instanceId)
                .addPathSegment("study").build();
        return getJson(url, "GET /instances/{id}/study")
                .orElseThrow(() -> new IOException("GET /instances/{id}/study: 404")).path("ID").asText();
    }

    /**
     * Sets a user-defined metadata entry ({@code PUT /{level}/{id}/metadata/{name}}); the name must be declared
     * in Orthanc's {@code UserMetadata} configuration.
     *
     * @param level {@code studies}, {@code series} or {@code instances}
     */
    public void putMetadata(String level, String id, String name, String value) throws IOException {
        HttpUrl url = base.newBuilder().addPathSegment(level).addPathSegment(id).addPathSegment("metadata")
                .addPathSegment(name).build();
        try (Response r = http.newCall(request(url).put(RequestBody.create(value, TEXT)).build()).execute()) {
            check(r, "PUT /" + level + "/{id}/metadata/" + name);
        }
    }

    /** A metadata entry, or empty when it is not set. */
    public Optional<String> metadata(String level, String id, String name) throws IOException {
        HttpUrl url = base.newBuilder().addPathSegment(level).addPathSegment(id).addPathSegment("metadata")
                .addPathSegment(name).build();
        try (Response r = http.newCall(request(url).get().build()).execute()) {
            if (r.code() == 404) {
                return Optional.empty();
            }
            check(r, "GET /" + level + "/{id}/metadata/" + name);
            return Optional.of(body(r));
        }
    }

    private Optional<JsonNode> getJson(HttpUrl url, String route) throws IOException {
        try (Response r = http.newCall(request(url).get().build()).execute()) {
            if (r.code() == 404) {
                return Optional.empty();
            }
            check(r, route);
            return Optional.of(JSON.readTree(body(r)));
        }
    }

    private Request.Builder request(HttpUrl url) {
        Request.Builder b = new Request.Builder().url(url).header("User-Agent", "xray-screening-gateway");
        if (authorization != null) {
            b.header("Authorization", authorization);
        }
        return b;
    }

    private static void check(Response r, String route) throws IOException {
        if (!r.isSuccessful()) {
            throw new IOException(route + ": HTTP " + r.code()
                    + (r.code() == 401 || r.code() == 403 ? " (check the Orthanc credentials)" : ""));
        }
    }

    private static String body(Response r) throws IOException {
        ResponseBody b = r.body();
        return b == null ? "" : b.string();
    }

    @Override
    public void close() {
        http.connectionPool().evictAll();
        http.dispatcher().executorService().shutdown();
    }
}
