using Aviary.Metrics.Templates;

namespace Aviary.Metrics.Tests.Templates;

public sealed class QueryTemplateTests
{
    private static readonly MetricTemplateModel Model = new()
    {
        Name = "podinfo",
        Namespace = "test",
        Target = "podinfo-target",
        Service = "podinfo-svc",
        Ingress = "podinfo-ing",
        Route = "podinfo-route",
        Interval = "1m",
        Variables = new Dictionary<string, string> { ["backend"] = "be_podinfo", ["low_case_1"] = "x" },
    };

    [Theory]
    [InlineData("{{ name }}", "podinfo")]
    [InlineData("{{name}}", "podinfo")]
    [InlineData("{{   namespace\t}}", "test")]
    [InlineData("{{ target }}", "podinfo-target")]
    [InlineData("{{ service }}", "podinfo-svc")]
    [InlineData("{{ ingress }}", "podinfo-ing")]
    [InlineData("{{ route }}", "podinfo-route")]
    [InlineData("{{ interval }}", "1m")]
    [InlineData("{{ variables.backend }}", "be_podinfo")]
    [InlineData("{{variables.low_case_1}}", "x")]
    [InlineData("no actions at all", "no actions at all")]
    [InlineData("a }} b", "a }} b")]
    [InlineData("", "")]
    public void Render_Field_Substituted(string template, string expected) =>
        Assert.Equal(expected, QueryTemplate.Render(template, Model).Value);

    [Fact]
    public void Render_FlaggerStyleQuery_EveryActionReplacedAndTextKept()
    {
        const string template = """
            sum(rate(http_requests_total{namespace="{{ namespace }}",pod=~"{{ target }}-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)",status!~"5.*"}[{{ interval }}]))
            """;
        var rendered = QueryTemplate.Render(template, Model);
        Assert.True(rendered.Succeeded, rendered.Error);
        Assert.Equal("""sum(rate(http_requests_total{namespace="test",pod=~"podinfo-target-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)",status!~"5.*"}[1m]))""", rendered.Value);
    }

    [Fact]
    public void Render_TrimMarkersAndComments_AsGoDoes() =>
        Assert.Equal("a=test;b", QueryTemplate.Render("a= \n {{- namespace -}} \n;{{/* a comment */}}b", Model).Value);

    [Fact]
    public void Render_MissingVariable_ErrorNamesIt()
    {
        var rendered = QueryTemplate.Render("x{{ variables.foo }}", Model);
        Assert.False(rendered.Succeeded);
        Assert.StartsWith("template: missing variable 'foo'", rendered.Error);
        Assert.Contains("backend", rendered.Error);
    }

    [Fact]
    public void Render_MissingVariableWithoutVariables_SaysThereAreNone()
    {
        var rendered = QueryTemplate.Render("{{ variables.foo }}", Model with { Variables = new Dictionary<string, string>() });
        Assert.Equal("template: missing variable 'foo' (the metric has no templateVariables)", rendered.Error);
    }

    [Fact]
    public void Render_UnknownName_ErrorNamesItAndWhere()
    {
        var rendered = QueryTemplate.Render("up\n  {{ deployment }}", Model);
        Assert.False(rendered.Succeeded);
        Assert.StartsWith("template: unknown name 'deployment' at line 2, column 3", rendered.Error);
    }

    [Fact]
    public void Render_UnclosedAction_ErrorSaysWhere()
    {
        var rendered = QueryTemplate.Render("rate(x[{{ interval ]", Model);
        Assert.False(rendered.Succeeded);
        Assert.Equal("template: unclosed action '{{' at line 1, column 8", rendered.Error);
    }

    [Theory]
    [InlineData("{{ printf \"%s\" name }}")]
    [InlineData("{{ .name }}")]
    [InlineData("{{ name | upper }}")]
    [InlineData("{{ variables }}")]
    [InlineData("{{ }}")]
    public void Render_UnsupportedAction_IsAnError(string template)
    {
        var rendered = QueryTemplate.Render(template, Model);
        Assert.False(rendered.Succeeded);
        Assert.StartsWith("template: ", rendered.Error);
    }
}
