from ecglens.cli.main import main

main()
