using Microsoft.Playwright;

namespace Aviary.Dashboard.Tests;

/// <summary>
/// Debian's chromium (installed by scripts/ensure-packages.sh), headless, driven by Playwright. Playwright's own browser
/// downloads are never used: they come from a host these machines cannot reach.
/// </summary>
internal sealed class Chromium : IAsyncDisposable
{
    private readonly IPlaywright _playwright;

    private Chromium(IPlaywright playwright, IBrowser browser)
    {
        _playwright = playwright;
        Browser = browser;
    }

    public IBrowser Browser { get; }

    public static async Task<Chromium> LaunchAsync()
    {
        DebianPackages.Ensure("chromium");
        // /usr/bin/chromium is Debian's wrapper script; Playwright starts the binary itself.
        var binary = File.Exists("/usr/lib/chromium/chromium") ? "/usr/lib/chromium/chromium" : DebianPackages.Which("chromium");
        var playwright = await Playwright.CreateAsync();
        try
        {
            var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
            {
                ExecutablePath = binary,
                Headless = true,
                // Tests run as root, where chromium's sandbox cannot start.
                Args = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
            });
            return new Chromium(playwright, browser);
        }
        catch
        {
            playwright.Dispose();
            throw;
        }
    }

    public async Task<IPage> NewPageAsync()
    {
        var context = await Browser.NewContextAsync(new BrowserNewContextOptions { ViewportSize = new ViewportSize { Width = 1280, Height = 860 } });
        return await context.NewPageAsync();
    }

    public async ValueTask DisposeAsync()
    {
        await Browser.DisposeAsync();
        _playwright.Dispose();
    }
}
