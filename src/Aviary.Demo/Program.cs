using Aviary.Demo;

return await DemoApp.RunAsync(args, Environment.GetEnvironmentVariable, Console.Out, Console.Error, CancellationToken.None)
    .ConfigureAwait(false);
