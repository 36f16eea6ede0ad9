global using Aviary.Routing.Proxy;
