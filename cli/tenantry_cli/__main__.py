from tenantry_cli.main import main

main()
