namespace Aviary.Kubernetes.Tests.Operator;

/// <summary>
/// Several canaries of one namespace run at once (each its own loop, sharing the client, the event recorder and the
/// metrics): each rollout reaches its end with its own events, and none waits for another.
/// </summary>
[Collection(OperatorCollection.Name)]
public sealed class SeedConcurrencyTests(OperatorCluster cluster)
{
    private static string AppYaml(string name, string image) => $$"""
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: {{name}}
        spec:
          replicas: 1
          selector:
            matchLabels: {app: {{name}}}
          template:
            metadata:
              labels: {app: {{name}}}
            spec:
              containers:
              - name: app
                image: {{image}}
                ports:
                - {name: http, containerPort: 8080}
        ---
        apiVersion: flagger.app/v1beta1
        kind: Canary
        metadata:
          name: {{name}}
        spec:
          provider: kubernetes
          targetRef:
            apiVersion: apps/v1
            kind: Deployment
            name: {{name}}
          service:
            port: 8080
          analysis:
            interval: 1s
            threshold: 2
            iterations: 3
        """;

    [Fact]
    public async Task ThreeBlueGreenCanaries_RolledOutTogether_EachSucceedsWithItsOwnEvents()
    {
        await using var bed = await OperatorTestBed.StartAsync(cluster, new OperatorTestBedOptions { Provider = "kubernetes" });
        string[] apps = ["app-a", "app-b", "app-c"];
        foreach (var app in apps) await bed.ApplyAsync(AppYaml(app, "registry.example/app:1"));
        foreach (var app in apps) await bed.WaitForCanaryPhaseAsync(app, "Initialized", TimeSpan.FromSeconds(60));

        foreach (var app in apps) await bed.KubectlAsync("set", "image", "deployment/" + app, "app=registry.example/app:2");
        foreach (var app in apps) await bed.WaitForCanaryPhaseAsync(app, "Succeeded", TimeSpan.FromSeconds(60));

        foreach (var app in apps)
        {
            var primary = await bed.RequireAsync("apps/v1", $"deployments/{app}-primary");
            Assert.Equal("registry.example/app:2", primary["spec"]!["template"]!["spec"]!["containers"]![0]!["image"]!.GetValue<string>());
            var apex = await bed.RequireAsync("v1", "services/" + app);
            Assert.Equal(app + "-primary", apex["spec"]!["selector"]!["app"]!.GetValue<string>());
            var id = $"{app}.{bed.Namespace}";
            var messages = bed.EventMessages(app);
            Assert.True(SeedTests.IsSubsequence([$"Initialization done! {id}", $"New revision detected! Scaling up {id}",
                $"Copying {id} template spec to {app}-primary.{bed.Namespace}", $"Promotion completed! Scaling down {id}"], messages), string.Join("\n", messages));
            // Each canary's events name it alone.
            Assert.All(messages.Where(m => m.Contains(".", StringComparison.Ordinal) && apps.Any(a => m.Contains(a + ".", StringComparison.Ordinal))),
                m => Assert.DoesNotContain(apps.Where(a => a != app), other => m.Contains(other + ".", StringComparison.Ordinal)));
        }
        bed.AssertNothingForbidden();
    }
}
