// WireMock's own Java client (from the wiremock npm package's standalone jar) against a
// controlplane session: register, hit the mock port, verify, list, find, remove.
// Run by tests/test_wiremock_polyglot.py:
//   java -cp wiremock-standalone.jar:. ClientCheck ADMIN_HOST ADMIN_PORT PATH_PREFIX MOCK_URL
import static com.github.tomakehurst.wiremock.client.WireMock.*;

import com.github.tomakehurst.wiremock.client.MappingBuilder;
import com.github.tomakehurst.wiremock.admin.model.ServeEventQuery;
import com.github.tomakehurst.wiremock.client.WireMock;
import com.github.tomakehurst.wiremock.extension.Parameters;
import com.github.tomakehurst.wiremock.global.GlobalSettings;
import com.github.tomakehurst.wiremock.stubbing.StubMapping;
import com.github.tomakehurst.wiremock.verification.LoggedRequest;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.List;

public class ClientCheck {
  static void check(boolean holds, String what) {
    if (!holds) {
      throw new AssertionError(what);
    }
  }

  static HttpResponse<String> fetch(HttpClient http, String url) throws Exception {
    HttpRequest request = HttpRequest.newBuilder(URI.create(url)).GET().build();
    return http.send(request, HttpResponse.BodyHandlers.ofString());
  }

  public static void main(String[] args) throws Exception {
    WireMock wm =
        WireMock.create()
            .http()
            .host(args[0])
            .port(Integer.parseInt(args[1]))
            .urlPathPrefix(args[2])
            .build();
    String mock = args[3];
    HttpClient http = HttpClient.newHttpClient();

    StubMapping stub =
        wm.register(
            get(urlPathEqualTo("/java"))
                .withQueryParam("q", equalTo("1"))
                .withMetadata(com.github.tomakehurst.wiremock.common.Metadata.metadata().attr("client", "java"))
                .willReturn(okJson("{\"from\": \"java\"}")));
    MappingBuilder second = post(urlEqualTo("/java/second")).willReturn(aResponse().withStatus(201));
    wm.register(second);

    for (int i = 0; i < 2; i++) {
      HttpResponse<String> answer = fetch(http, mock + "/java?q=1");
      check(answer.statusCode() == 200, "stub answers: " + answer.statusCode());
      check(answer.body().contains("java"), "stub body: " + answer.body());
      check(
          answer.headers().firstValue("Matched-Stub-Id").orElse("").equals(stub.getId().toString()),
          "Matched-Stub-Id");
    }
    HttpResponse<String> missed = fetch(http, mock + "/java?q=2");
    check(missed.statusCode() == 404, "unmatched is a 404");
    check(missed.body().contains("Request was not matched"), "diff report: " + missed.body());

    wm.verifyThat(2, getRequestedFor(urlPathEqualTo("/java")).withQueryParam("q", equalTo("1")));
    wm.verifyThat(0, postRequestedFor(urlEqualTo("/java/second")));
    List<LoggedRequest> found = wm.find(getRequestedFor(urlPathEqualTo("/java")));
    check(found.size() == 3, "find: " + found.size());
    check(wm.findAllUnmatchedRequests().size() == 1, "unmatched requests");
    check(wm.getServeEvents().size() == 3, "serve events");
    check(wm.getServeEvents(ServeEventQuery.forStubMapping(stub)).size() == 2, "by stub");
    check(wm.getServeEvents(ServeEventQuery.ALL_UNMATCHED).size() == 1, "only unmatched");

    GlobalSettings settings =
        GlobalSettings.builder().extended(Parameters.one("team", "java")).build();
    wm.updateGlobalSettings(settings);
    check(wm.getGlobalSettings().getExtended().getString("team").equals("java"), "extended");

    // The requests the stub with this metadata answered leave the journal.
    check(
        wm.removeEventsByMetadata(matchingJsonPath("$.client", equalTo("java"))).size() == 2,
        "requests removed by stub metadata");
    check(wm.getServeEvents().size() == 1, "the unmatched request stays");

    List<StubMapping> listed = wm.allStubMappings().getMappings();
    check(listed.size() == 2, "two stubs listed: " + listed.size());
    check(wm.getStubMapping(stub.getId()).getItem().getRequest().getUrlPath().equals("/java"), "one");

    // By pattern: the client sends the builder's stub with a new random id.
    wm.removeStubMapping(second);
    check(wm.allStubMappings().getMappings().size() == 1, "removed by request pattern");
    wm.removeStubsByMetadataPattern(matchingJsonPath("$.client", equalTo("java")));
    check(wm.allStubMappings().getMappings().isEmpty(), "removed by metadata");

    wm.resetRequests();
    check(wm.getServeEvents().isEmpty(), "journal reset");
    System.out.println("java client: ok");
  }
}
