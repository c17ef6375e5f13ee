from tenantry_agent.cli import main

main()
